"""The audit routes (api.audit.routes) as mounted here: the role table applied, checkpoints made.

The routes themselves are tested with the audit code; this is about how the API wires them: the
lifespan's checkpoint scheduler signs the log as it grows, and each kind of audit access is open
to the roles of ``api.audit.AUDIT_ROLES`` only.
"""

from __future__ import annotations

from tests.api.support import (
    AUDITOR,
    INTAKE,
    ONE_ROLE,
    WITNESS,
    Api,
    bearer,
    signed_checkpoint,
)


async def test_the_scheduler_signs_the_log_as_it_grows(api: Api) -> None:
    await api.register()
    assert (await signed_checkpoint(api, 1))["size"] == 1
    await api.register()
    assert (await signed_checkpoint(api, 2))["size"] == 2


async def test_evidence_and_verification_are_for_auditors_cosigning_for_witnesses(
    api: Api,
) -> None:
    case = await api.register()
    revealed = await api.post(AUDITOR, case, "reveal", {"reason": "出具证据材料"})
    assert revealed.status_code == 200, revealed.text  # a bundle holds identifiers unmasked
    await signed_checkpoint(api, 2)
    for role, actor in ONE_ROLE.items():
        evidence = await api.get(actor, f"/v1/cases/{case.id}/evidence")
        verify = await api.get(actor, "/v1/ledger/verify")
        checkpoint = await api.get(actor, "/v1/ledger/checkpoint")
        assert (evidence.status_code == 200) == (role == "auditor"), role
        assert (verify.status_code == 200) == (role == "auditor"), role
        assert checkpoint.status_code == 200, role
        if role != "auditor":
            assert evidence.json()["code"] == "FORBIDDEN_ROLE"
    cosign = "/v1/ledger/checkpoints/2/cosign"
    body = {"signature": "— not a signature"}
    refused = await api.client.post(cosign, json=body, headers=bearer(AUDITOR))
    assert refused.status_code == 403
    tried = await api.client.post(cosign, json=body, headers=bearer(WITNESS))
    assert tried.status_code == 422  # past the guard; the signature itself is refused
    assert tried.json()["code"] == "COSIGNATURE_REJECTED"
    assert (await api.get(INTAKE, "/v1/ledger/verify")).json()["code"] == "FORBIDDEN_ROLE"


async def test_positions_beyond_any_ledger_are_refused_with_the_parameter_named(
    api: Api,
) -> None:
    await api.register()
    await signed_checkpoint(api, 1)
    too_big = str(2**63)
    for path, params in (
        ("/v1/ledger/proofs/inclusion", {"position": too_big}),
        ("/v1/ledger/proofs/inclusion", {"position": "1", "size": too_big}),
        ("/v1/ledger/proofs/consistency", {"from": "1", "to": too_big}),
        ("/v1/ledger/proofs/consistency", {"from": too_big, "to": too_big}),
    ):
        response = await api.get(AUDITOR, path, **params)
        assert response.status_code == 400, (path, params, response.text)
        body = response.json()
        assert body["code"] == "INVALID_PARAMETER", body
        name = next(k for k, v in params.items() if v == too_big)
        assert name in body["detail"], body
