"""The workspace's pages and forms: Flask over the store, one connection per server thread.

Every page is server-rendered and works without JavaScript (plain links and forms); a small local
script (static/keys.js) adds one key per action. Safety, in the order a request meets it: the
host must be one the server answers for (loopback names when bound to loopback: no DNS
rebinding), a form must come from this origin (Origin / Sec-Fetch-Site) and carry the session's
CSRF token, then the user is known (an account's signed session, or the local user), and only an
editor may decide. No GET changes anything.
"""

from __future__ import annotations

import ipaddress
import logging
import sqlite3
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, g, redirect, render_template, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader, StrictUndefined
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response as BaseResponse

from ..article.claims import short_claim
from ..article.resolve import record_claim
from ..article.verdicts import WORDS
from ..config import Config
from ..digest.html import anchor
from ..errors import UsageError
from ..relevance.evaluate import ALL, ROWS, fmt
from ..relevance.labels import IRRELEVANT, NOTE_CHARS, RELEVANT
from ..store import REOPENED, RESOLVED, Store
from ..text import plain, shorten
from ..weeks import Week, utc_now
from . import claims as claim_pages
from . import views
from .accounts import EDITOR, LOCAL, User, verify_password
from .facets import Facets

log = logging.getLogger(__name__)

SESSION_HOURS = 12
CITE = "cite"
ACTIONS = (RELEVANT, IRRELEVANT, CITE)
LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1", "[::1]"]
SAFE_SITES = (None, "same-origin", "none")  # Sec-Fetch-Site values a form may come with
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self';"
       " base-uri 'none'; frame-ancestors 'none'")


def is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def forwarded() -> bool:
    """The request came through a proxy (it says so): never the local user."""
    return any(h in request.headers for h in ("Forwarded", "X-Forwarded-For", "X-Real-IP"))


def local_path(target: str | None, default: str) -> str:
    """Where to go after a form: a path of this site, never another (no open redirect)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")) and "\n" not in target and "\r" not in target:
        return target
    return default


class Stores:
    """One store connection per server thread, all closed at the end."""

    def __init__(self, config: Config, busy_timeout: float) -> None:
        self.config = config
        self.busy_timeout = busy_timeout
        self.local = threading.local()
        self.opened: list[Store] = []
        self.lock = threading.Lock()

    def get(self) -> Store:
        store: Store | None = getattr(self.local, "store", None)
        if store is None:
            store = Store.attach(self.config.database, busy_timeout=self.busy_timeout)
            self.local.store = store
            with self.lock:
                self.opened.append(store)
        return store

    def close(self) -> None:
        with self.lock:
            for store in self.opened:
                store.close()
            self.opened.clear()


def warm(config: Config, facets: Facets, works: views.WorksCache, evidence: claim_pages.EvidenceCache,
         busy_timeout: float) -> None:
    """At start, in the background: every matched item's facet, the works, and the works bearing on each claim."""
    store = Store.attach(config.database, busy_timeout=busy_timeout)
    try:
        facets.refresh(store)
        works.get(store)
        evidence.compute(store)
    except sqlite3.Error as exc:
        log.warning("workspace: warming up: %s", exc)
    finally:
        facets.ready.set()  # after a failure, the pages that wait for these compute what is missing themselves
        evidence.ready.set()
        store.close()


def create_app(config: Config, key: bytes, *, loopback: bool, behind_proxy: bool = False,
               busy_timeout: float = 10.0) -> Flask:
    """`loopback`: the server listens on a loopback address only, so while no account exists each
    request from this machine is the local user. `behind_proxy`: a reverse proxy on this machine
    terminates TLS and forwards (its X-Forwarded-* headers are believed, cookies are Secure, and
    there is no local user)."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=key,
        SESSION_COOKIE_NAME="watcher_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=behind_proxy,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session that holds it
        WTF_CSRF_SSL_STRICT=True,
        MAX_CONTENT_LENGTH=64 * 1024,
        TRUSTED_HOSTS=LOOPBACK_NAMES if loopback and not behind_proxy else None,
    )
    # The workspace's templates, and the digest's under digest/ (the verdicts are rendered by the same macro).
    app.jinja_loader = ChoiceLoader([FileSystemLoader(Path(__file__).parent / "templates"),
                                     PrefixLoader({"digest": PackageLoader("watcher.digest", "templates")})])
    app.jinja_env.autoescape = True
    app.jinja_env.undefined = StrictUndefined
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters.update(anchor=anchor, plain=plain, shorten=shorten)
    # Claims are named by their words, as in the digest; the id stays in links and form values.
    claim_names = {c.id: short_claim(c.text) for c in claim_pages.claims_of(config)}
    app.jinja_env.globals.update(fmt=fmt, ALL=ALL, ROWS=ROWS, verdict_words=WORDS, page_size=views.PAGE, claim_names=claim_names)
    if behind_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    local_allowed = loopback and not behind_proxy
    stores = Stores(config, busy_timeout)
    facets = Facets(claim_pages.claims_of(config))
    works = views.WorksCache(config, lambda: Store.attach(config.database, busy_timeout=busy_timeout))
    evidence = claim_pages.EvidenceCache(config, facets, works, lambda: Store.attach(config.database, busy_timeout=busy_timeout))
    warming = threading.Thread(target=warm, args=(config, facets, works, evidence, busy_timeout), name="warm-up", daemon=True)
    warming.start()
    claim_ids = tuple(c.id for c in claim_pages.claims_of(config))
    sources = tuple(s.name for s in config.sources)
    app.extensions["watcher_stores"] = stores
    app.extensions["watcher_warm_up"] = warming

    def store() -> Store:
        return stores.get()

    # ---- before every request: origin, CSRF, who ----

    @app.before_request
    def same_origin() -> None:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return
        origin = request.headers.get("Origin")
        if request.headers.get("Sec-Fetch-Site") not in SAFE_SITES or (
                origin is not None and origin != request.host_url.rstrip("/")):
            abort(403, "This form did not come from a page of this workspace.")

    csrf = CSRFProtect(app)

    @app.before_request
    def identify() -> Response | BaseResponse | None:
        g.user = None
        if request.endpoint in ("static", "favicon"):
            return None
        db = store()
        if db.has_users():
            name, generation = session.get("user"), session.get("generation")
            found = db.user(name) if isinstance(name, str) else None
            if found is not None and found.generation == generation:
                g.user = User(found.name, found.role, found.generation)
        elif local_allowed and is_loopback(request.remote_addr) and not forwarded():
            g.user = User(LOCAL, EDITOR, local=True)
        if g.user is None and request.endpoint not in ("signin", "signout"):
            if not db.has_users():
                abort(403, "This workspace has no accounts, and is not reached on this machine's loopback:"
                           " add one with `watcher user add NAME`.")
            if request.method == "GET":
                return redirect(url_for("signin", next=request.full_path.rstrip("?")))
            abort(403, "Sign in first.")
        return None

    def editor() -> User:
        user: User | None = g.user
        if user is None or not user.can_decide:
            abort(403, "Readers can read every page; only an editor can decide.")
        return user

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"  # not no-referrer: it makes a form's Origin "null"
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.context_processor
    def common() -> dict[str, Any]:
        user: User | None = g.get("user")
        shown = views.status(store(), config) if user is not None else None
        return {"user": user, "status": shown, "claim_ids": claim_ids, "sources": sources,
                "sections": views.SECTION_TITLES, "tiers": views.TIERS, "done": session.pop("done", None) if user else None}

    # ---- errors in words ----

    def page_error(code: int, message: str) -> tuple[str, int]:
        return render_template("error.html.j2", code=code, message=message), code

    @app.errorhandler(CSRFError)
    def csrf_refused(exc: CSRFError) -> tuple[str, int]:
        return page_error(400, "This form has no valid token (it did not come from this workspace, or the session"
                               " ended): reload the page and submit again. Nothing was stored.")

    for code in (400, 403, 404, 405, 413):
        app.register_error_handler(code, lambda exc, code=code: page_error(code, str(getattr(exc, "description", exc))))

    @app.errorhandler(429)
    def throttled(exc: Exception) -> tuple[str, int]:
        return page_error(429, "Too many sign-in attempts from here or for this name: wait a minute and try again.")

    @app.errorhandler(sqlite3.OperationalError)
    def busy(exc: sqlite3.OperationalError) -> tuple[str, int]:
        log.warning("workspace: database error: %s", exc)
        return page_error(503, f"The store did not answer in {busy_timeout:g} s ({plain(str(exc))}): nothing was stored."
                               " Submit again in a moment.")

    # ---- pages ----

    def refreshed() -> Store:
        """The store, with every matched item's facet up to date (the claims pages and the queue's
        section and claim filters need them all; the other pages compute those of the items they show)."""
        db = store()
        facets.current(db)
        return db

    def page_number() -> int:
        return max(0, min(request.args.get("page", 0, type=int), 10_000))

    @app.get("/")
    def home() -> BaseResponse:
        return redirect(url_for("queue"))

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status=204)  # browsers ask; a 404 would be an error in their console

    @app.get("/queue")
    def queue() -> str:
        def pick(name: str, allowed: tuple[str, ...]) -> str | None:
            value = request.args.get(name) or None
            return value if value in allowed else None

        filters = views.Filters(pick("tier", views.TIERS), pick("section", tuple(views.SECTION_TITLES)),
                                pick("claim", claim_ids), pick("source", sources))
        db = refreshed() if filters.section or filters.claim else store()
        return render_template("queue.html.j2", view=views.queue(db, config, facets, filters, page_number()))

    @app.get("/week")
    def week() -> str:
        current = Week.containing(utc_now(), config.timezone)
        try:
            which = Week.parse(request.args["week"]) if request.args.get("week") else current
        except ValueError as exc:
            abort(404, str(exc))
        if which > current:
            abort(404, f"{which} has not begun yet.")
        return render_template("week.html.j2", view=views.week(store(), config, facets, works, which, current))

    @app.get("/item")
    def item() -> str:
        found = views.item(store(), config, facets, works, request.args.get("id", ""))
        if found is None:
            abort(404, "No stored item has this id.")
        return render_template("item.html.j2", view=found)

    @app.get("/claims")
    def claims() -> str:
        return render_template("claims.html.j2", view=claim_pages.overview(store(), config, evidence))

    @app.get("/claims/<claim_id>")
    def claim(claim_id: str) -> str:
        found = claim_pages.dossier(store(), config, facets, evidence, claim_id, page_number())
        if found is None:
            abort(404, "feeds.yaml has no claim of this id.")
        return render_template("dossier.html.j2", view=found)

    @app.get("/article")
    def article() -> str:
        return render_template("article.html.j2", view=claim_pages.article(store(), config, evidence))

    @app.get("/search")
    def search() -> str:
        query = request.args.get("q", "")[:200]
        return render_template("search.html.j2", view=views.search(store(), config, facets, query))

    @app.get("/quality")
    def quality() -> str:
        return render_template("quality.html.j2", evaluation=views.quality(store(), config))

    # ---- signing in and out ----

    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://")

    def failed(response: Response) -> bool:
        return response.status_code != 303

    @app.route("/signin", methods=["GET", "POST"])
    @limiter.limit("5 per minute;30 per hour", methods=["POST"], deduct_when=failed)
    @limiter.limit("10 per hour", methods=["POST"], deduct_when=failed,
                   key_func=lambda: "name:" + request.form.get("name", "")[:40])
    def signin() -> tuple[str, int] | BaseResponse:
        target = local_path(request.args.get("next"), url_for("queue"))
        if request.method == "GET":
            return render_template("signin.html.j2", target=target, wrong=False), 200
        name, password = request.form.get("name", "").strip().lower(), request.form.get("password", "")
        found = store().user(name)
        if not verify_password(found.password if found else None, password) or found is None:
            log.info("workspace: a failed sign-in from %s", request.remote_addr)
            return render_template("signin.html.j2", target=target, wrong=True), 401
        session.clear()  # a fresh session (and CSRF token) for the account
        session.permanent = True
        session["user"], session["generation"] = found.name, found.generation
        log.info("workspace: %s signed in", found.name)
        return redirect(target, 303)

    @app.post("/signout")
    def signout() -> BaseResponse:
        session.clear()
        return redirect(url_for("signin"), 303)

    # ---- decisions (POST only, editors only) ----

    def after(words: str, item_id: str) -> BaseResponse:
        session["done"] = [item_id, words]
        return redirect(local_path(request.form.get("next"), url_for("queue")), 303)

    def form_item() -> str:
        item_id = request.form.get("id", "")
        if not item_id:
            abort(400, "The form names no item.")
        return item_id

    def form_note() -> str | None:
        if "note" not in request.form:
            return None
        note = plain(request.form["note"])
        if len(note) > NOTE_CHARS:
            abort(400, f"The note is {len(note)} characters long; keep it under {NOTE_CHARS}.")
        return note

    @app.post("/decide")
    def decide() -> BaseResponse:
        user = editor()
        item_id, action = form_item(), request.form.get("verdict", "")
        if action not in ACTIONS:
            abort(400, f"Not a decision: {plain(action)[:40]!r}; one of {', '.join(ACTIONS)}.")
        claim_id = request.form.get("claim") or None
        if action == CITE and claim_id not in claim_ids:
            abort(400, "Cite for which claim? Choose one of feeds.yaml's claims.")
        label = RELEVANT if action == CITE else action
        stored = store().decide(item_id, label, claim=claim_id if action == CITE else None, note=form_note(),
                                user=user.name, now=utc_now())
        if stored is None:
            abort(404, "No stored item has this id.")
        return after(f"cite for {claim_id}" if action == CITE else label, item_id)

    @app.post("/note")
    def note() -> BaseResponse:
        user = editor()
        item_id, text = form_item(), form_note()
        if store().annotate(item_id, text or "", user=user.name, now=utc_now()) is None:
            abort(404, "No stored item has this id.")
        return after("note kept", item_id)

    @app.post("/undo")
    def undo() -> BaseResponse:
        user = editor()
        item_id = form_item()
        withdrawn = store().undo(item_id, user=user.name, now=utc_now())
        if withdrawn is None:
            abort(404, "This item has no decision to undo.")
        return after("undone", item_id)

    # ---- an editor's record on a claim (POST only, editors only) ----

    def record(claim_id: str, action: str) -> BaseResponse:
        user = editor()
        if config.article is None or claim_id not in claim_ids:
            abort(404, "feeds.yaml has no claim of this id.")
        try:
            record_claim(store(), config.article, claim_id, user.name, request.form.get("note", ""), utc_now(), action=action)
        except UsageError as exc:
            abort(400, str(exc))
        return redirect(local_path(request.form.get("next"), url_for("claim", claim_id=claim_id)), 303)

    @app.post("/claims/<claim_id>/resolve")
    def resolve(claim_id: str) -> BaseResponse:
        """The page is corrected (or the claim found right): the contradicted verdict leaves."""
        return record(claim_id, RESOLVED)

    @app.post("/claims/<claim_id>/reopen")
    def reopen(claim_id: str) -> BaseResponse:
        return record(claim_id, REOPENED)

    app.extensions["watcher_csrf"] = csrf
    return app
