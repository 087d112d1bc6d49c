"""A synthetic province of the real shape, deterministic from a seed, for tests and benchmarks.

Default shape (scale 1.0) is Yunnan's: 1 province (530000), 16 prefectures with their real
GB/T 2260 prefixes, 129 counties, 1,400 townships and 14,000 villages, and 20,000 people. Names
are made-up Chinese place and person names. Counts below the prefecture level scale with
``scale`` (at least one of each), so ``scale=0.01`` gives a tree of ~160 nodes with the same
levels. Every code satisfies :mod:`iam.orgs.codes`.
"""

from __future__ import annotations

import dataclasses
import random

from iam.orgs.model import NodeKind

PROVINCE = ("530000", "云南省")
#: Real second-level prefixes of 530000 (GB/T 2260): 5 cities and 8 autonomous prefectures + 3.
PREFECTURES = [
    "5301",
    "5303",
    "5304",
    "5305",
    "5306",
    "5307",
    "5308",
    "5309",
    "5323",
    "5325",
    "5326",
    "5328",
    "5329",
    "5331",
    "5333",
    "5334",
]
_SYLLABLES = "安宁华阳平江河山云龙泉石金水田文明德和兴福康定新清源溪松林桥湖"
_SURNAMES = "李王张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗段普岩刀者"
_GIVEN = "明华国建云丽芳强伟秀英春海军玉兰平霞杰"


@dataclasses.dataclass(frozen=True, slots=True)
class NodeRow:
    kind: NodeKind
    code: str
    name: str
    parent_code: str


@dataclasses.dataclass(frozen=True, slots=True)
class PersonRow:
    username: str
    family_name: str
    given_name: str
    email: str
    org_codes: tuple[str, ...]
    attributes: tuple[tuple[str, str], ...] = ()
    #: The optional ``invite`` column: send the person credentials once they are created.
    invite: bool = False


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """``total`` spread over ``parts`` buckets, each at least 1, deterministic."""
    total = max(total, parts)
    counts = [1] * parts
    for _ in range(total - parts):
        counts[rng.randrange(parts)] += 1
    return counts


def _name(rng: random.Random, suffix: str) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(2)) + suffix


def nodes(seed: int = 1, scale: float = 1.0) -> list[NodeRow]:
    if not 0 < scale <= 1:
        raise ValueError("scale is in (0, 1]")
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    counties = max(round(129 * scale), 1)
    prefectures = PREFECTURES[: min(len(PREFECTURES), counties)]
    out = [NodeRow(NodeKind.PROVINCE, PROVINCE[0], PROVINCE[1], "")]
    county_codes: list[str] = []
    for prefix, n_counties in zip(
        prefectures, _split(counties, len(prefectures), rng), strict=True
    ):
        code = prefix + "00"
        out.append(NodeRow(NodeKind.PREFECTURE, code, _name(rng, "市"), PROVINCE[0]))
        for i in range(1, n_counties + 1):
            county = f"{prefix}{i:02d}"
            county_codes.append(county)
            out.append(NodeRow(NodeKind.COUNTY, county, _name(rng, "县"), code))
    township_codes: list[str] = []
    per_county = _split(max(round(1400 * scale), 1), len(county_codes), rng)
    for county, n_towns in zip(county_codes, per_county, strict=True):
        for i in range(1, n_towns + 1):
            town = f"{county}{100 + i:03d}"
            township_codes.append(town)
            out.append(NodeRow(NodeKind.TOWNSHIP, town, _name(rng, "镇"), county))
    per_town = _split(max(round(14000 * scale), 1), len(township_codes), rng)
    for town, n_villages in zip(township_codes, per_town, strict=True):
        for i in range(1, n_villages + 1):
            out.append(NodeRow(NodeKind.VILLAGE, f"{town}{200 + i:03d}", _name(rng, "村"), town))
    return out


def people(
    node_rows: list[NodeRow], seed: int = 1, scale: float = 1.0, total: int = 20_000
) -> list[PersonRow]:
    rng = random.Random(seed + 1)  # noqa: S311 - reproducible test data
    count = max(round(total * scale), 1)
    codes = [n.code for n in node_rows]
    out = []
    for i in range(count):
        username = f"s{seed}-{i:06d}"
        out.append(
            PersonRow(
                username=username,
                family_name=rng.choice(_SURNAMES),
                given_name="".join(rng.choice(_GIVEN) for _ in range(rng.randint(1, 2))),
                email=f"{username}@example.gov.test",
                org_codes=(rng.choice(codes),),
                attributes=(("title", rng.choice(["科员", "主任", "站长", "村干部"])),),
            )
        )
    return out
