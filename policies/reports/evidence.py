# ruff: noqa: RUF001, RUF002 - Chinese text takes Chinese (full-width) punctuation
"""Evidence written for people: a check's findings as labelled lines, not Python values.

An assessor reads "暴力破解防护（bruteForceProtected）：否，应为 true", not ``{'a': True}``. Values
become text here once, for the HTML and PDF reports alike: a mapping gives "key: value" lines, a
list gives bullets, booleans 是/否, ISO times Beijing time with the zone; known settings and
checks get Chinese labels (the raw key stays in brackets, so the evidence can be traced back).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from policies.reports.assessment import local_time

#: Chinese names of the checks (policies/checks/*.py ids).
CHECKS = {
    "audit.route_coverage": "接口审计覆盖",
    "audit.record_fields": "审计记录要素",
    "audit.retention": "审计日志留存期限",
    "audit.tamper_evidence": "审计日志防篡改校验",
    "audit.sensitive_encrypted": "个人信息加密存储",
    "crypto.seal_algorithms": "电子印章密码算法",
    "crypto.keys_encrypted": "印章密钥加密保护",
    "crypto.ca_validity": "印章 CA 证书有效期",
    "crypto.crl_fresh": "证书撤销列表时效",
    "realm.password_policy": "口令复杂度策略",
    "realm.brute_force": "登录失败处理",
    "realm.idle_timeout": "会话超时退出",
    "realm.admin_otp": "管理员动态口令",
    "realm.no_admin_without_otp": "管理员均已绑定动态口令",
    "realm.events": "登录及管理事件记录",
    "realm.default_accounts": "默认账户处理",
    "realm.accounts": "共享及过期账户",
    "realm.ssl_required": "登录强制 TLS",
    "siem.identity_rules": "身份类检测规则",
    "siem.triage_sla": "告警处置时限",
    "transport.tls_required": "生产环境强制 TLS",
    "transport.keycloak_https": "身份服务使用 HTTPS",
}

#: Chinese names of the settings findings look at (exact keys, then ``prefix.`` families).
SETTINGS = {
    "bruteForceProtected": "暴力破解防护",
    "failureFactor": "允许连续失败次数",
    "maxFailureWaitSeconds": "锁定时长（秒）",
    "ssoSessionIdleTimeout": "会话空闲超时（秒）",
    "sslRequired": "要求 TLS 的范围",
    "eventsEnabled": "登录事件记录",
    "enabledEventTypes": "记录的事件类型",
    "adminEventsEnabled": "管理事件记录",
    "adminEventsDetailsEnabled": "管理事件详情记录",
    "audit.retention_days": "审计日志留存天数",
    "audit.recorded_routes": "已审计的接口",
    "audit.model.AuditEvent fields": "审计记录字段",
    "audit verify (last)": "最近一次完整性校验结果",
    "audit verify (time)": "最近一次完整性校验时间",
    "audit_integrity.signing_key_file": "审计签名密钥",
    "audit_integrity.field_keyring_file": "敏感字段加密",
    "key store: plaintext keys": "明文存储的密钥数",
    "seals.kek (key wrapping)": "印章密钥封装算法",
    "keycloak.url": "身份服务地址",
    "server.tls_cert_file | server.behind_tls_proxy": "TLS 证书或 TLS 反向代理",
    "siem.rules[identity]": "身份类检测规则",
    "siem.triage_sla": "超时未处置告警",
    "users[admin roles]": "管理角色用户",
    "users[default names]": "默认名称账户",
    "users.attributes.account_expires": "账户到期时间",
    "users.attributes.account_type=shared": "共享账户",
}
_FAMILIES = {"passwordPolicy.": "口令策略 ", "users.": "用户 ", "seals.": "印章 ",
             "authenticationFlows.": "认证流程 ", "roles.": "角色 "}  # fmt: skip
STATUS = {"pass": "符合", "fail": "不符合", "manual": "人工核查", "not_applicable": "不适用"}

_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})")
_LIST_REPR = re.compile(r"\[((?:'[^'\[\]]*'(?:, )?)*)\]")


def _local(match: re.Match[str]) -> str:
    try:
        return local_time(datetime.fromisoformat(match.group(0).replace("Z", "+00:00")))
    except ValueError:
        return match.group(0)


def text(value: str) -> str:
    """Free text of a finding: zoned ISO times to Beijing time, ``['a', 'b']`` to ``a、b``."""
    out = _ISO_TIME.sub(_local, value)
    return _LIST_REPR.sub(lambda m: "、".join(re.findall(r"'([^']*)'", m.group(1))) or "无", out)


def scalar(value: Any) -> str:
    """One value as words: 是/否, 无, numbers as written, times localised."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if value is None or value == "":
        return "无"
    if isinstance(value, datetime):
        return local_time(value)
    return text(str(value))


def value_lines(value: Any, indent: str = "") -> list[str]:
    """A value as lines: mappings as "key: value", sequences as bullets, nested by indent."""
    if isinstance(value, Mapping):
        if not value:
            return [f"{indent}无"]
        out: list[str] = []
        for key, item in value.items():
            if isinstance(item, Mapping | list | tuple) and item:
                out += [f"{indent}{label(str(key))}:", *value_lines(item, indent + "  ")]
            else:
                out.append(f"{indent}{label(str(key))}: {scalar(item)}")
        return out
    if isinstance(value, list | tuple):
        if not value:
            return [f"{indent}无"]
        return [line for item in value for line in _bullet(item, indent)]
    return [f"{indent}{scalar(value)}"]


def _bullet(item: Any, indent: str) -> list[str]:
    lines = value_lines(item, indent + "  ")
    return [f"{indent}· {lines[0].lstrip()}", *lines[1:]]


def label(setting: str) -> str:
    """``暴力破解防护（bruteForceProtected）``; unknown keys stay as they are."""
    if setting in SETTINGS:
        return f"{SETTINGS[setting]}（{setting}）"
    for prefix, name in _FAMILIES.items():
        if setting.startswith(prefix):
            return f"{name}{setting.removeprefix(prefix)}"
    return text(setting)


def check_lines(check: Mapping[str, Any]) -> list[str]:
    """One automated check as the report prints it: title and outcome, then each finding."""
    name = CHECKS.get(check["check"], check["check"])
    head = f"{name}（{check['check']}）：{STATUS.get(check['status'], check['status'])}"
    if check["reason"]:
        head += f"，{_reason(check['reason'])}"
    out = [head]
    for f in check["findings"]:
        head = f"  [{'符合' if f['ok'] else '不符合'}] {label(f['setting'])}："
        values = value_lines(f["observed"])
        if len(values) == 1:
            out.append(head + values[0])
        else:
            out += [head, *(f"      {v}" for v in values)]
        note = f"；{text(f['note'])}" if f["note"] else ""
        out.append(f"      要求：{text(f['expected'])}{note}")
    return out


def _reason(reason: str) -> str:
    if reason.startswith("not met: "):
        keys = [k.strip() for k in reason.removeprefix("not met: ").split(",")]
        return "未满足：" + "、".join(SETTINGS.get(k, k) for k in keys)
    return text(reason)
