"""The 837P writer: pyx12 judges every file, and we check what pyx12 does not."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

import pytest

from claimferry.claims import Claim, parse_claims
from claimferry.claims_input import load_claims
from claimferry.config import Contact
from claimferry.errors import InputError
from claimferry.x12.segments import Segment, segments_from_bytes
from claimferry.x12.writer837 import Envelope, write_837p
from support.claim_files import CLAIM_FILES, DATA, ENVELOPE, SAMPLE
from support.x12judge import judge

# -- a small structural reader over claimferry.x12.segments ---------------------


@dataclass
class ClaimLoop:
    """Loop 2300 and everything under it, with the HL it hangs from."""

    hl: str
    segments: list[Segment] = field(default_factory=list)

    @property
    def clm(self) -> Segment:
        return self.segments[0]

    def ids(self) -> list[str]:
        return [s.id for s in self.segments]

    def refs(self, qualifier: str) -> list[str]:
        """The claim's and lines' REFs, not the other payers' (2330B, from SBR to LX)."""
        found = []
        other_payer = False
        for s in self.segments:
            other_payer = s.id == "SBR" or (other_payer and s.id != "LX")
            if s.id == "REF" and s.element(1) == qualifier and not other_payer:
                found.append(s.element(2))
        return found

    def head(self) -> list[str]:
        """Loop 2300 to its 2310 providers: up to the first other payer (2320) or line."""
        ids = self.ids()
        end = next(i for i, s in enumerate(ids) if s in ("SBR", "LX"))
        return ids[:end]

    def line_charges(self) -> list[Decimal]:
        return [Decimal(s.element(2)) for s in self.segments if s.id == "SV1"]


@dataclass
class Parsed:
    segments: list[Segment]
    hls: dict[str, Segment]
    claims: dict[str, ClaimLoop]

    def find(self, seg_id: str, first: str | None = None) -> list[Segment]:
        return [
            s for s in self.segments if s.id == seg_id and (first is None or s.element(1) == first)
        ]


def parse(data: bytes) -> Parsed:
    segments = segments_from_bytes(data, "test.837")
    hls: dict[str, Segment] = {}
    claims: dict[str, ClaimLoop] = {}
    current_hl = ""
    loop: ClaimLoop | None = None
    for seg in segments:
        if seg.id == "HL":
            hls[seg.element(1)] = seg
            current_hl = seg.element(1)
            loop = None
        elif seg.id == "CLM":
            loop = ClaimLoop(current_hl)
            claims[seg.element(1)] = loop
        elif seg.id in ("SE", "GE", "IEA"):
            loop = None
        if loop is not None:
            loop.segments.append(seg)
    return Parsed(segments, hls, claims)


def build(path: Path, envelope: Envelope = ENVELOPE) -> tuple[list[Claim], bytes]:
    claims = load_claims(path).claims
    return claims, write_837p(claims, envelope)


def one_claim(**changes: object) -> list[Claim]:
    """The first demo claim with top-level fields replaced (through the schema)."""
    import yaml

    raw = yaml.safe_load(SAMPLE.read_text())
    claim = {**raw["claims"][0], **changes}
    return parse_claims(
        {"billing_provider": raw["billing_provider"], "claims": [claim]}, "test"
    ).claims


# -- every claims file: pyx12 clean, and the structure right -------------------


@pytest.fixture(scope="module", params=CLAIM_FILES, ids=lambda p: p.name)
def built(request: pytest.FixtureRequest) -> tuple[list[Claim], bytes, Parsed]:
    claims, data = build(request.param)
    return claims, data, parse(data)


def test_pyx12_finds_no_errors(built: tuple[list[Claim], bytes, Parsed]) -> None:
    _, data, _ = built
    verdict = judge(data)
    assert verdict, verdict.errors[:10]


def test_envelope_counts_and_control_numbers(built: tuple[list[Claim], bytes, Parsed]) -> None:
    _, data, parsed = built
    segs = parsed.segments
    assert [s.id for s in segs[:3]] == ["ISA", "GS", "ST"]
    assert [s.id for s in segs[-3:]] == ["SE", "GE", "IEA"]
    st, se = segs[2], segs[-3]
    assert int(se.element(1)) == len(segs) - 4  # ST..SE inclusive
    assert se.element(2) == st.element(2) == "0003"
    assert segs[-2].element(1) == "1" and segs[-2].element(2) == segs[1].element(6) == "7"
    assert segs[-1].element(1) == "1" and segs[-1].element(2) == segs[0].element(13)
    assert data.endswith(b"IEA*1*000000042~\n")


def test_every_claim_once_with_clm02_the_sum_of_its_lines(
    built: tuple[list[Claim], bytes, Parsed],
) -> None:
    claims, _, parsed = built
    assert set(parsed.claims) == {c.id for c in claims}
    assert len(parsed.find("CLM")) == len(claims)
    for claim in claims:
        loop = parsed.claims[claim.id]
        assert Decimal(loop.clm.element(2)) == sum(loop.line_charges()) == claim.total_charge
        assert len(loop.line_charges()) == len(claim.lines) <= 50
        lx = [s.element(1) for s in loop.segments if s.id == "LX"]
        assert lx == [str(n) for n in range(1, len(claim.lines) + 1)]


def test_hl_parents_levels_and_child_codes(built: tuple[list[Claim], bytes, Parsed]) -> None:
    _, _, parsed = built
    hls = parsed.hls
    assert list(hls) == [str(n) for n in range(1, len(hls) + 1)]
    parent_level = {"20": "", "22": "20", "23": "22"}
    for number, hl in hls.items():
        parent = hl.element(2)
        level = hl.element(3)
        if level == "20":
            assert parent == ""
        else:
            assert int(parent) < int(number)
            assert hls[parent].element(3) == parent_level[level]
        has_children = any(other.element(2) == number for other in hls.values())
        if level != "20":
            assert hl.element(4) == ("1" if has_children else "0")


def test_claims_per_subscriber_hl_at_most_100(built: tuple[list[Claim], bytes, Parsed]) -> None:
    _, _, parsed = built
    per_subscriber: dict[str, int] = {}
    for loop in parsed.claims.values():
        hl = parsed.hls[loop.hl]
        subscriber = loop.hl if hl.element(3) == "22" else hl.element(2)
        per_subscriber[subscriber] = per_subscriber.get(subscriber, 0) + 1
    assert max(per_subscriber.values()) <= 100


def test_frequency_and_ref_f8(built: tuple[list[Claim], bytes, Parsed]) -> None:
    claims, _, parsed = built
    for claim in claims:
        loop = parsed.claims[claim.id]
        pos, qualifier, frequency = loop.clm.components(5)
        assert (pos, qualifier) == (claim.place_of_service, "B")
        assert frequency == {"original": "1", "replacement": "7", "void": "8"}[claim.frequency]
        expected = [claim.payer_claim_number] if claim.frequency != "original" else []
        assert loop.refs("F8") == expected
        expected_auth = [claim.prior_authorization] if claim.prior_authorization else []
        assert loop.refs("G1") == expected_auth


_ORDER_2300 = {"CLM": 0, "DTP": 1, "REF": 2, "HI": 3}
_ORDER_2310 = {"DN": 0, "82": 1, "77": 2, "DQ": 3}


def test_segment_order_inside_2300_and_2310(built: tuple[list[Claim], bytes, Parsed]) -> None:
    _, _, parsed = built
    for loop in parsed.claims.values():
        head = loop.head()
        ranks = [_ORDER_2300[s] for s in head if s in _ORDER_2300]
        assert ranks == sorted(ranks), head
        assert head.count("HI") == 1 and head[0] == "CLM"
        hi = head.index("HI")
        assert all(s in ("NM1", "PRV", "N3", "N4") for s in head[hi + 1 :])
        providers = [s.element(1) for s in loop.segments[: len(head)] if s.id == "NM1"]
        assert [_ORDER_2310[p] for p in providers] == sorted(_ORDER_2310[p] for p in providers)


def test_lines_carry_dates_and_line_ids(built: tuple[list[Claim], bytes, Parsed]) -> None:
    claims, _, parsed = built
    for claim in claims:
        loop = parsed.claims[claim.id]
        dates = [s for s in loop.segments if s.id == "DTP" and s.element(1) == "472"]
        assert len(dates) == len(claim.lines)
        for line, dtp in zip(claim.lines, dates, strict=True):
            start = f"{line.service_date:%Y%m%d}"
            end = line.service_end_date
            if end is None or end == line.service_date:
                assert (dtp.element(2), dtp.element(3)) == ("D8", start)
            else:
                assert (dtp.element(2), dtp.element(3)) == ("RD8", f"{start}-{end:%Y%m%d}")
        assert loop.refs("6R") == [
            line.id or f"{claim.id}-{n}" for n, line in enumerate(claim.lines, start=1)
        ]


# -- particular files -----------------------------------------------------------


def test_120_claims_split_into_two_subscriber_loops_with_the_patients_repeated() -> None:
    claims, data = build(DATA / "subscriber_120.yaml")
    parsed = parse(data)
    subscribers = [hl for hl in parsed.hls.values() if hl.element(3) == "22"]
    assert len(subscribers) == 2
    assert len(parsed.find("SBR")) == 2 and len(parsed.find("NM1", "IL")) == 2
    counts = {hl.element(1): 0 for hl in subscribers}
    for loop in parsed.claims.values():
        counts[parsed.hls[loop.hl].element(2)] += 1
    assert sorted(counts.values()) == [20, 100]
    patients = [hl for hl in parsed.hls.values() if hl.element(3) == "23"]
    # Eli (70) and Nora's first 30 under the first 2000B, Nora's last 20 under the second.
    assert [hl.element(2) for hl in patients] == [
        subscribers[0].element(1),
        subscribers[0].element(1),
        subscribers[1].element(1),
    ]
    assert len(parsed.find("PAT")) == 3
    assert list(parsed.claims) == [c.id for c in claims]


def test_60_claims_of_a_subscriber_patient_stay_in_one_loop() -> None:
    _, data = build(DATA / "subscriber_60.yaml")
    parsed = parse(data)
    assert [hl.element(3) for hl in parsed.hls.values()] == ["20", "22"]
    sbr = parsed.find("SBR")[0]
    assert (sbr.element(1), sbr.element(2), sbr.element(9)) == ("P", "18", "MC")
    assert parsed.hls["2"].element(4) == "0"
    assert len(parsed.claims) == 60


def test_dependents_share_a_subscriber_loop_and_the_subscriber_gets_her_own() -> None:
    _, data = build(DATA / "dependents.yaml")
    parsed = parse(data)
    levels = [(hl.element(3), hl.element(2), hl.element(4)) for hl in parsed.hls.values()]
    assert levels == [
        ("20", "", "1"),
        ("22", "1", "1"),  # Jordan as subscriber of her children
        ("23", "2", "0"),  # Mateo: two claims
        ("23", "2", "0"),  # Lucía
        ("22", "1", "0"),  # Jordan as the patient
        ("22", "1", "1"),  # Chris, subscriber for his spouse
        ("23", "6", "0"),
    ]
    assert [s.element(2) for s in parsed.find("SBR")] == ["", "18", ""]
    assert [s.element(1) for s in parsed.find("PAT")] == ["19", "19", "01"]
    assert parsed.claims["LBH-2001"].hl == parsed.claims["LBH-2003"].hl == "3"
    names = [(s.element(3), s.element(4)) for s in parsed.find("NM1", "QC")]
    assert names == [("RIVERA", "MATEO"), ("RIVERA-O'NEIL", "LUCIA"), ("LEE", "DANA")]
    # Chris has no address: no N3/N4 between his NM1*IL and DMG
    chris = next(i for i, s in enumerate(parsed.segments) if s.element(9) == "W555000111")
    assert parsed.segments[chris + 1].id == "DMG"


def test_several_billing_providers_one_a_person() -> None:
    _, data = build(DATA / "many_providers.yaml")
    parsed = parse(data)
    billing = parsed.find("NM1", "85")
    assert [(s.element(2), s.element(3), s.element(4)) for s in billing] == [
        ("2", "SUNRISE ABA THERAPY LLC", ""),
        ("1", "MOREAU", "GABRIEL"),
        ("2", "GATEWAY KIDS THERAPY INC", ""),
    ]
    assert [s.element(3) for s in parsed.find("PRV", "BI")] == ["103K00000X", "103K00000X"]
    # MP-1 and MP-5 (same subscriber and payer) share one 2000B under the first provider
    assert parsed.claims["MP-1"].hl == parsed.claims["MP-5"].hl
    assert parsed.hls[parsed.claims["MP-4"].hl].element(2) == "1"
    payers = [s.element(9) for s in parsed.find("NM1", "PR")]
    assert payers == ["60054", "00621", "TREST", "61101"]


def test_full_claim_diagnoses_modifiers_and_provider_loops() -> None:
    _, data = build(DATA / "full_claim.yaml")
    loop = parse(data).claims["NDP-4001"]
    hi = next(s for s in loop.segments if s.id == "HI")
    assert len(hi) == 12
    assert hi.element(1) == "ABK:F840" and hi.element(12) == "ABF:R633"
    assert all(hi.element(n).startswith("ABF:") for n in range(2, 13))
    sv1 = [s for s in loop.segments if s.id == "SV1"]
    assert sv1[0].element(1) == "HC:97153:HM:95:GT:59"
    assert sv1[0].element(7) == "1:2:3:4"
    assert sv1[2].element(4) == "4.5" and sv1[2].element(2) == "202.75"
    assert sv1[3].element(1) == "HC:0362T" and sv1[3].element(2) == "0.99"
    nm1 = [(s.element(1), s.element(9)) for s in loop.segments if s.id == "NM1"]
    assert nm1 == [("DN", "1003000126"), ("82", "1245319599"), ("77", "1700345675")]
    assert [s.element(1) for s in loop.segments if s.id == "PRV"] == ["PE"]
    n3 = [s for s in parse(data).segments if s.id == "N3"]
    assert ["45 RIDGE RD", "APT 3B"] in [[s.element(1), s.element(2)] for s in n3]
    assert loop.refs("6R")[1] == "NDP-4001-WK2"
    big = parse(data).claims["NDP-4002"]
    assert len(big.line_charges()) == 50
    assert [s.element(9) for s in big.segments if s.id == "NM1"] == ["1552384061", ""]


# -- formatting and refusals ------------------------------------------------------


def test_isa_is_fixed_width_and_the_terminator_is_tilde_newline() -> None:
    _, data = build(SAMPLE)
    isa = data.split(b"~\n", 1)[0].decode()
    assert len(isa) == 105
    fields = isa.split("*")
    assert len(fields) == 17
    assert fields[6] == "SUB123         " and fields[8] == "RECV01         "
    assert fields[2] == fields[4] == " " * 10
    assert fields[9:11] == ["261120", "0905"]
    assert fields[11:17] == ["^", "00501", "000000042", "0", "T", ":"]
    assert data.count(b"~") == data.count(b"~\n")


def test_header_segments() -> None:
    _, data = build(SAMPLE)
    text = data.decode()
    assert "GS*HC*SUB123*RECVGS*20261120*0905*7*X*005010X222A1~" in text
    assert "ST*837*0003*005010X222A1~" in text
    assert "BHT*0019*00*0003*20261120*0905*CH~" in text
    assert "NM1*41*2*SUNRISE ABA THERAPY LLC*****46*SUB123~" in text
    assert "PER*IC*JO BILLER*TE*2175550100*EM*jo@example.com~" in text
    assert "NM1*40*2*SOME HOUSE*****46*RECV1000B~" in text


def test_production_flag_and_email_only_contact() -> None:
    envelope = replace(ENVELOPE, test=False, contact=Contact(name="Jo", email="jo@example.com"))
    data = write_837p(one_claim(), envelope).decode()
    assert data.split("*")[15] == "P"
    assert "PER*IC*JO*EM*jo@example.com~" in data


@pytest.mark.parametrize(
    ("charges", "expected"),
    [(["480.00", "200.00"], "680"), (["480.25", "200.25"], "680.5"), (["12.34"], "12.34")],
)
def test_amounts_have_no_needless_zeros(charges: list[str], expected: str) -> None:
    lines = [
        {"service_date": "2026-11-02", "procedure": "97153", "units": "1.0",
         "charge": c, "diagnosis_pointers": [1]}
        for c in charges
    ]  # fmt: skip
    data = write_837p(one_claim(lines=lines), ENVELOPE).decode()
    assert f"CLM*SUN-1001*{expected}***" in data
    assert "*UN*1***1~" in data


def test_names_are_uppercased_folded_and_stripped_of_delimiters() -> None:
    patient = {
        "relationship": "child", "first_name": "Zoë*Ann", "last_name": "D'Souza~Núñez",
        "birth_date": "2019-06-30", "gender": "F",
        "address": {"line1": "22 Oak Ave: Rear", "city": "Springfield", "state": "IL",
                    "zip": "62704-1234"},
    }  # fmt: skip
    data = write_837p(one_claim(patient=patient), ENVELOPE).decode()
    assert "NM1*QC*1*D'SOUZA NUNEZ*ZOE ANN~" in data
    assert "N3*22 OAK AVE REAR~" in data
    assert "N4*SPRINGFIELD*IL*627041234~" in data
    assert judge(data.encode())


def test_reference_numbers_of_50_characters_are_written_whole_and_pyx12_clean() -> None:
    """REF*G1 and REF*F8 (REF02) and SBR03 allow 50 characters; the schema stops at 50."""
    import yaml

    subscriber = yaml.safe_load(SAMPLE.read_text())["claims"][0]["subscriber"]
    auth, number, group = "A" * 49 + "1", "P" * 49 + "2", "G" * 49 + "3"
    claims = one_claim(
        prior_authorization=auth,
        frequency="replacement",
        payer_claim_number=number,
        subscriber={**subscriber, "group_number": group},
    )
    data = write_837p(claims, ENVELOPE)
    loop = parse(data).claims["SUN-1001"]
    assert loop.refs("G1") == [auth] and loop.refs("F8") == [number]
    assert [s.element(3) for s in parse(data).find("SBR")] == [group]
    verdict = judge(data)
    assert verdict, verdict.errors[:10]


def test_provider_identifiers_at_the_schema_maximums_are_pyx12_clean() -> None:
    """The schema's limits are the TR3's: PRV03 and REF*EI REF02 50, NM109 80."""
    import yaml

    raw = yaml.safe_load(SAMPLE.read_text())
    provider = {**raw["billing_provider"], "npi": "1" * 80, "tax_id": "2" * 50}
    provider["taxonomy"] = "T" * 50
    rendering = {"first_name": "Ann", "last_name": "Lee", "npi": "3" * 80, "taxonomy": "R" * 50}
    claim = {**raw["claims"][0], "rendering_provider": rendering}
    claims = parse_claims({"billing_provider": provider, "claims": [claim]}, "test").claims
    data = write_837p(claims, ENVELOPE)
    assert [s.element(3) for s in parse(data).find("PRV")] == ["T" * 50, "R" * 50]
    verdict = judge(data)
    assert verdict, verdict.errors[:10]


def test_an_identifier_with_a_delimiter_is_refused_naming_the_field_not_the_value() -> None:
    with pytest.raises(InputError) as caught:
        write_837p(one_claim(prior_authorization="PA*77"), ENVELOPE)
    [problem] = caught.value.problems
    assert problem.location == "claim SUN-1001: prior_authorization"
    assert "PA*77" not in str(caught.value)


def test_a_name_with_nothing_x12_can_carry_is_refused() -> None:
    subscriber = {
        "member_id": "XOF1", "first_name": "王", "last_name": "李", "birth_date": "1984-02-11",
        "gender": "F", "filing_code": "BL",
    }  # fmt: skip
    with pytest.raises(InputError) as caught:
        write_837p(one_claim(subscriber=subscriber), ENVELOPE)
    locations = [p.location for p in caught.value.problems]
    assert locations == ["claim SUN-1001: subscriber.last_name"]


@pytest.mark.parametrize(
    "bad",
    [
        {"interchange_control_number": 0},
        {"interchange_control_number": 10**9},
        {"sender_id": "WAY-TOO-LONG-SENDER"},
        {"sender_id": "A*B"},
        # the config refuses such a contact; the writer still guards against one built around it
        {"contact": Contact.model_construct(name="Jo", phone=None, email=None)},
    ],
)
def test_a_bad_envelope_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        write_837p(one_claim(), replace(ENVELOPE, **bad))  # type: ignore[arg-type]


def test_no_claims_no_file() -> None:
    with pytest.raises(ValueError):
        write_837p([], ENVELOPE)


def test_control_numbers_are_padded() -> None:
    envelope = replace(
        ENVELOPE,
        interchange_control_number=123456789,
        group_control_number=123456789,
        transaction_set_control_number=12345,
    )
    segs = parse(write_837p(one_claim(), envelope)).segments
    assert segs[0].element(13) == "123456789"
    assert segs[2].element(2) == segs[-3].element(2) == "12345"
    assert segs[-2].element(2) == "123456789"
