# ruff: noqa: RUF001 - Chinese text takes Chinese (full-width) punctuation
"""The demo platform's data: an org tree of Yunnan, one person per platform role, one app.

Development only (``anbao dev seed`` refuses production). Codes are real GB/T 2260 codes
(云南省 530000 → 昆明市 530100 → 五华区 530102) and the statistics bureau's township code of
五华区华山街道 (530102001); the community below it follows the bureau's 12-digit scheme, and
the department's unified social credit code carries a valid GB 32100 check character.

The people's password and authenticator key are fixed and printed on purpose: a newcomer signs
in at once, with no mail server and no QR code. They are development secrets, never production
ones; ``otp_key`` is the base32 key an authenticator app (or ``oathtool --totp -b KEY``) takes.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import struct

from iam.orgs.codes import uscc_check_char

#: The password of every demo person (meets the realm's password policy; not temporary).
PASSWORD = "Anbao-Dev-2026!"  # noqa: S105 - a published development password
#: The raw TOTP secret Keycloak stores for every demo person (RFC 6238, SHA-1, 6 digits, 30 s).
OTP_SECRET = "anbao-dev-otp-2026"  # noqa: S105 - published, development only
#: The same secret as authenticator apps take it (base32, RFC 4648).
OTP_KEY = base64.b32encode(OTP_SECRET.encode()).decode().rstrip("=")

_DEPARTMENT_BODY = "11530102MB0123456"  # 1 = 机构编制, 1 = 机关, 530102 = 五华区, then the org code
DEPARTMENT_USCC = _DEPARTMENT_BODY + uscc_check_char(_DEPARTMENT_BODY)


@dataclasses.dataclass(frozen=True, slots=True)
class DemoNode:
    key: str
    parent: str | None
    kind: str
    code: str
    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class DemoPerson:
    username: str
    family_name: str
    given_name: str
    role: str
    member_of: str  # a DemoNode key
    bound_to: str | None  # the node the role is bound to (an org-admin's subtree)
    can: str  # what they can try, for the banner and docs/first-run.md


NODES: tuple[DemoNode, ...] = (
    DemoNode("province", None, "province", "530000", "云南省"),
    DemoNode("prefecture", "province", "prefecture", "530100", "昆明市"),
    DemoNode("county", "prefecture", "county", "530102", "五华区"),
    DemoNode("township", "county", "township", "530102001", "华山街道"),
    DemoNode("village", "township", "village", "530102001001", "华山社区"),
    DemoNode("department", "county", "department", DEPARTMENT_USCC, "昆明市五华区数据局"),
)

PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson(
        "demo-admin",
        "王",
        "安",
        "platform-admin",
        "province",
        None,
        "everything: org tree, people, roles, apps",
    ),
    DemoPerson(
        "demo-org-admin",
        "李",
        "华",
        "org-admin",
        "county",
        "county",
        "the 五华区 subtree: nodes, people, seal applications",
    ),
    DemoPerson(
        "demo-analyst",
        "赵",
        "析",
        "security-analyst",
        "province",
        "province",
        "audit search and alerts, province-wide",
    ),
    DemoPerson(
        "demo-auditor",
        "钱",
        "审",
        "auditor",
        "province",
        "province",
        "reads the audit trail and compliance reports",
    ),
    DemoPerson(
        "demo-compliance",
        "孙",
        "合",
        "compliance-officer",
        "province",
        "province",
        "runs compliance checks and signs reports off",
    ),
    DemoPerson(
        "demo-seal-admin",
        "周",
        "印",
        "seal-admin",
        "province",
        None,
        "approves and makes seals",
    ),
    DemoPerson(
        "demo-seal-user",
        "吴",
        "章",
        "seal-user",
        "department",
        None,
        "signs documents with the 数据局's seal (after OTP step-up)",
    ),
    DemoPerson(
        "demo-developer",
        "郑",
        "开",
        "app-developer",
        "county",
        None,
        "registers apps; owns the demo app",
    ),
)


@dataclasses.dataclass(frozen=True, slots=True)
class DemoApp:
    """The public client of ``examples/permits_app.py`` (authorization code + PKCE)."""

    client_id: str = "permits-demo"
    name: str = "许可审批演示"
    redirect_uri: str = "http://127.0.0.1:8765/callback"
    role: str = "approver"
    owner: str = "demo-developer"


APP = DemoApp()

#: Sample OFD documents (file name -> title, lines) for signing with the demo seal.
SAMPLE_DOCUMENTS = {
    "notice.ofd": (
        "关于开展网络安全检查的通知",
        [
            "各街道办事处、区级各部门：",
            "为落实网络安全等级保护制度，现就开展年度检查有关事项通知如下。",
            "一、检查范围：区内各单位的信息系统和电子政务外网终端。",
            "二、时间安排：自通知印发之日起三十日内完成自查。",
            "三、工作要求：各单位须指定联系人，按时报送自查报告。",
            "昆明市五华区数据局",
        ],
    ),
    "permit.ofd": (
        "行政许可决定书",
        [
            "申请人：昆明市五华区华山社区居民委员会",
            "许可事项：公共场所电子显示屏设置",
            "经审查，申请材料齐全，符合法定形式，决定准予许可。",
            "有效期：自决定之日起一年。",
            "昆明市五华区数据局",
        ],
    ),
}


def otp_code(at: float, secret: bytes = OTP_SECRET.encode()) -> str:
    """The demo authenticator's code at time ``at`` (RFC 6238 TOTP over RFC 4226 HOTP:
    HMAC-SHA-1, 30 s steps, 6 digits, as the realm's otp_policy), for ``anbao dev otp``."""
    digest = hmac.new(secret, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


@dataclasses.dataclass(frozen=True)
class DemoReportCover:
    """The compliance report's cover in the demo (``compliance.*`` of the demo settings) and the
    subjects of the demo officer's report-signing certificate and its throw-away CA."""

    system_name: str
    organisation: str
    mlps_level: int
    filing_number: str
    ca_subject: str
    officer_subject: str


#: The filing number is made up and says so: 53 = Yunnan, then a sequence; "DEMO" keeps it
#: from passing for a real one.
REPORT_COVER = DemoReportCover(
    system_name="云南省一网通办安全保障平台",
    organisation="云南省数据局",
    mlps_level=3,
    filing_number="53000099001-26001-DEMO",
    ca_subject="/C=CN/O=Anbao 演示/CN=Anbao 演示报告签署 CA",
    officer_subject="/C=CN/O=云南省数据局/OU=合规管理/CN=孙合 demo-compliance",
)
