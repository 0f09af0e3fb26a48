"""The audit layer: the Merkle log over the event chain, checkpoints, proofs, verification.

- ``merkle``: RFC 9162 tree, compact range, inclusion/consistency proofs and their verification;
- ``log_hook.MerkleHook``: extends the stored tree inside every append transaction;
- ``keys``, ``note``, ``checkpoints``: Ed25519 keys, C2SP signed notes, signed and co-signed
  checkpoints, and the ``CheckpointScheduler``;
- ``witness``: a bureau's witness — check consistency, then cosign;
- ``verify.verify_ledger``: the whole-ledger check; ``bundle``: offline evidence bundles;
- ``service.AuditService``: all of it over one store (what the API and the CLI use).

Modules are imported where needed; nothing is re-exported here, so importing one part (the pure
``merkle`` in a verifier, say) does not pull in database drivers.
"""
