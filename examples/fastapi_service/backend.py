"""Both dependencies of the example catalog in one small FastAPI app, for running it locally and
in its test: ``GET /prices/{product_id}`` and ``GET /recommendations/{product_id}``.

Scripted answers, so a run's outcome is known in advance: ``p-1``..``p-3`` have prices,
``p-broken``'s pricing answers 503 (``Retry-After: 0``) every time, any other id is 404; the
recommendations of ``p-2`` fail with 500 (the catalog's fallback then shows none). Run it with
``python -m examples.fastapi_service.backend --port 8001``.
"""

from __future__ import annotations

import argparse
from collections import Counter

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse

PRICES = {"p-1": 9.5, "p-2": 24.0, "p-3": 3.25}
BROKEN = "p-broken"


def make_backend() -> FastAPI:
    """The scripted dependency app; ``app.state.hits`` counts requests per path."""
    app = FastAPI(title="catalog dependencies")
    hits: Counter[str] = Counter()
    app.state.hits = hits

    @app.get("/prices/{product_id}")
    async def price(product_id: str) -> Response:
        hits[f"/prices/{product_id}"] += 1
        if product_id == BROKEN:
            return JSONResponse({"error": "overloaded"}, 503, headers={"Retry-After": "0"})
        if product_id not in PRICES:
            return JSONResponse({"error": "unknown product"}, 404)
        return JSONResponse({"price": PRICES[product_id]})

    @app.get("/recommendations/{product_id}")
    async def recommendations(product_id: str) -> Response:
        hits[f"/recommendations/{product_id}"] += 1
        if product_id == "p-2":
            return JSONResponse({"error": "model unavailable"}, 500)
        return JSONResponse([p for p in PRICES if p != product_id])

    @app.get("/hits")
    async def counts() -> dict[str, int]:
        return dict(hits)

    return app


def main(argv: list[str] | None = None) -> None:
    """Serve the dependencies on 127.0.0.1 with uvicorn."""
    import uvicorn

    parser = argparse.ArgumentParser(description="The example catalog's dependencies.")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(make_backend(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
