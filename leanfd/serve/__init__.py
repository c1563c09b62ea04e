"""Verification beyond one machine: a replicated HTTP verify service and its client.

``leanfd serve`` starts one replica (:mod:`leanfd.serve.app`, FastAPI + uvicorn, wrapping a warm
:class:`leanfd.lean.Verifier`); :func:`verify_batch_http` spreads a batch over N replicas and
returns verdicts in input order. See docker/README.md ("Scale up") for why HTTP and not Ray.
"""

from leanfd.serve.client import VerifyServiceError, resolve_urls, verify_batch_http, wait_until_ready

__all__ = ["VerifyServiceError", "resolve_urls", "verify_batch_http", "wait_until_ready"]
