"""National-standard cryptography for Anbao.

Two tiers, as in pyca/cryptography: primitives (`sm2`, `sm3`, `sm4`: bytes in, bytes out,
raise on failure) and recipes (`pki`, `seal`, `keystore`), the only APIs the rest of the
platform calls.
"""
