"""X12 5010: the segment reader, the 837P writer and the response readers."""
