"""The replicated HTTP verify service: ``leanfd serve`` starts one replica (:mod:`leanfd.serve.app`,
FastAPI + uvicorn, wrapping a warm :class:`leanfd.lean.Verifier`). Its client lives next to the
verifier, in :mod:`leanfd.lean.http` (re-exported here): :func:`verify_batch_http` spreads a batch
over N replicas and returns verdicts in input order. See docker/README.md ("Scale up").
"""

from leanfd.lean.http import VerifyServiceError, resolve_urls, verify_batch_http, wait_until_ready

__all__ = ["VerifyServiceError", "resolve_urls", "verify_batch_http", "wait_until_ready"]
