"""X12 5010: the segment reader, the 837P writer and reader, and the response readers
(999, TA1, 277CA, 835).

Part of the core: it imports the claim model (:mod:`claimferry.claims`), never
the CLI or the pipeline, which import it. The harness may import it for segment
parsing; plugins use what :mod:`claimferry.api` exports.
"""
