"""The partner API's errors: one JSON shape (``ApiError``), whichever layer raised them.

FastAPI answers its own errors as ``{"detail": ...}``; an API client should not have to parse two
shapes, so the API's routes use ``PartnerRoute``, which turns every error into an ``ApiError`` in
the vocabulary of RFC 6750 (invalid_request, invalid_token, insufficient_scope) plus not_found.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from photoshare.api_models import ApiError

_ERROR_CODES = {
    400: "invalid_request",
    401: "invalid_token",
    403: "insufficient_scope",
    404: "not_found",
    413: "invalid_request",
    422: "invalid_request",
}


class ApiProblem(Exception):
    """An error of the partner API, answered as an ``ApiError`` body."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        *,
        scope: str | None = None,
        errors: list[dict[str, object]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.body = ApiError(error=error, error_description=description, scope=scope, errors=errors)
        self.headers = headers

    def response(self) -> JSONResponse:
        content = self.body.model_dump(exclude_none=True)
        return JSONResponse(content, status_code=self.status, headers=self.headers)


def not_found(what: str) -> ApiProblem:
    return ApiProblem(404, "not_found", f"no such {what}")


def _from_validation(exc: RequestValidationError) -> ApiProblem:
    errors: list[dict[str, object]] = [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))}
        for error in exc.errors()
    ]
    if any(error.get("type") == "json_invalid" for error in exc.errors()):
        return ApiProblem(
            400, "invalid_request", "the request body is not valid JSON", errors=errors
        )
    return ApiProblem(422, "invalid_request", "invalid request parameters", errors=errors)


def _from_http(exc: HTTPException) -> ApiProblem:
    code = _ERROR_CODES.get(exc.status_code, "error")
    return ApiProblem(exc.status_code, code, str(exc.detail), headers=exc.headers)


class PartnerRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiProblem as problem:
                return problem.response()
            except RequestValidationError as exc:
                return _from_validation(exc).response()
            except HTTPException as exc:
                return _from_http(exc).response()

        return handle
