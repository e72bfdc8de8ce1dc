"""A fake BigQuery REST API and Google OAuth token endpoint on 127.0.0.1, over a seeded export.

Why: the `gcp` connector talks through `google-cloud-bigquery` and `google-auth`, the same
code that talks to Google; here they talk to this server (`client_options.api_endpoint`
and the key file's `token_uri`). The fake runs the connector's SQL for real: it parses it
as BigQuery SQL with sqlglot, checks the table it names and the parameters it uses,
translates it to DuckDB and runs it on `SeededExport`'s table of the export's documented
schema. Results go back as BigQuery does: `schema.fields` and `{"f": [{"v": ...}]}` rows,
every value a string, paged with `pageToken` (`page_rows` caps a page, as BigQuery's
response-size cap does whatever `maxResults` asks).

Endpoints: `POST /token` (the JWT-bearer grant: the assertion's RS256 signature is checked
with the service account's public key, and its iss/aud/scope/exp), and under
`/bigquery/v2/projects/{project}`: `POST /queries` (jobs.query), `GET /queries/{job}`
(jobs.getQueryResults), `POST /jobs` (jobs.insert, dry runs included), `GET /jobs/{job}`
(jobs.get), `POST /jobs/{job}/cancel`, `GET /datasets/{d}/tables/{t}` (tables.get).
IAM is two grants, `data_viewer` (on the dataset) and `job_user` (on the job project),
answered with BigQuery's 403 accessDenied bodies when missing. Knobs: `fail()`,
`malform()`, `revise()` (SeededExport's).
"""

from __future__ import annotations

import base64
import itertools
import json
import socket
import threading
import time
import uuid
from datetime import date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import sqlglot
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlglot import exp

from fakes.gcp_export import SeededExport
from fakes.server import FakeHTTPServer, FakeServer

TABLE = "billing-admin-4821.billing_export.gcp_billing_export_v1_0A1B2C_3D4E5F_6A7B8C"
SA_EMAIL = "spendledger-reader@billing-admin-4821.iam.gserviceaccount.com"
BIGQUERY_SCOPES = (
    "https://www.googleapis.com/auth/bigquery",
    "https://www.googleapis.com/auth/cloud-platform",
)
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUDIENCE = "https://oauth2.googleapis.com/token"  # an assertion's `aud`, wherever it is posted
_REASON_STATUS = {
    "accessDenied": "PERMISSION_DENIED",
    "notFound": "NOT_FOUND",
    "invalidQuery": "INVALID_ARGUMENT",
}
_MESSAGES = {
    "rateLimitExceeded": "Exceeded rate limits: too many api requests per user per method for this "
    "user_method. For more information, see https://cloud.google.com/bigquery/docs/troubleshoot-quotas",
    "backendError": "Error encountered during execution. Retrying may solve the problem.",
}


class ServiceAccount:
    """A service account with a fresh RSA key pair: its JSON key file for any token endpoint."""

    def __init__(self, *, email: str = SA_EMAIL, project: str = "billing-admin-4821") -> None:
        self.email, self.project = email, project
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = uuid.uuid4().hex

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private.public_key()

    def key_file(self, token_uri: str) -> str:
        """The JSON key file, as IAM & Admin → Service accounts → Keys → Add key → JSON gives it."""
        pem = self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        info = {
            "type": "service_account",
            "project_id": self.project,
            "private_key_id": self.key_id,
            "private_key": pem,
            "client_email": self.email,
            "client_id": "104729000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "universe_domain": "googleapis.com",
        }
        return json.dumps(info, indent=2)


def free_port() -> int:
    """A port free now, for a fake whose URL must be known before it starts (a key's token_uri)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _error(status: int, reason: str, message: str) -> tuple[int, dict[str, Any]]:
    """BigQuery's error body (google-api-core reads `error.message` and `error.errors`)."""
    errors = [{"message": message, "domain": "global", "reason": reason}]
    state = _REASON_STATUS.get(reason, "UNAVAILABLE" if status >= 500 else "INVALID_ARGUMENT")
    return status, {"error": {"code": status, "message": message, "errors": errors, "status": state}}


def _bq_type(kind: duckdb.DuckDBPyType) -> dict[str, Any]:
    """A DuckDB column type as a BigQuery schema field (without its name)."""
    if kind.id == "list":
        return {**_bq_type(kind.child), "mode": "REPEATED"}
    if kind.id == "struct":
        return {"type": "RECORD", "mode": "NULLABLE", "fields": _fields(kind.children)}
    simple = {
        "varchar": "STRING",
        "date": "DATE",
        "decimal": "NUMERIC",
        "double": "FLOAT",
        "float": "FLOAT",
        "bigint": "INTEGER",
        "integer": "INTEGER",
        "hugeint": "INTEGER",
        "boolean": "BOOLEAN",
        "timestamp with time zone": "TIMESTAMP",
        "timestamp": "TIMESTAMP",
    }
    return {"type": simple.get(kind.id, "STRING"), "mode": "NULLABLE"}


def _fields(children: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": name, **_bq_type(kind)} for name, kind in children]


def _cell(value: Any) -> Any:
    """A value as BigQuery's JSON rows carry it: strings, `{"f": ...}` records, `{"v": ...}` lists."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {"f": [{"v": _cell(v)} for v in value.values()]}
    if isinstance(value, list):
        return [{"v": _cell(v)} for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}" if value else "0"
    if isinstance(value, datetime):
        return str(int(value.timestamp() * 1_000_000))  # the client asks for int64 microseconds
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _param(spec: dict[str, Any], value: dict[str, Any] | None) -> Any:
    """A query parameter's typed value, as DuckDB takes it."""
    kind = spec.get("type")
    if kind == "ARRAY":
        return [_param(spec["arrayType"], v) for v in (value or {}).get("arrayValues", [])]
    raw = (value or {}).get("value")
    if raw is None:
        return None
    if kind == "TIMESTAMP":
        return datetime.fromisoformat(raw.replace(" ", "T"))
    if kind == "DATE":
        return date.fromisoformat(raw)
    if kind in ("INT64", "INTEGER"):
        return int(raw)
    return raw


class QueryError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason = status, reason


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: FakeHTTPServer

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fake: FakeBigQuery = self.server.fake
        status, payload, headers = fake.handle(method, self.path, self.headers.get("Authorization"), body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json; charset=UTF-8", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeBigQuery(SeededExport, FakeServer):
    """The fake Google, serving a `SeededExport` (its arguments) as the table `table`.

    `account` is the service account it knows (tokens are granted only to assertions its
    public key verifies; `key_file()` is its key for this server); `data_viewer`/`job_user`
    the account's grants; `page_rows` the most rows a result page carries; `port` 0: a free
    one. `requests` logs (method, path, query, body); `queries` every SQL text run, with
    its parameters.
    """

    def __init__(
        self,
        *,
        account: ServiceAccount,
        table: str = TABLE,
        page_rows: int = 10_000,
        data_viewer: bool = True,
        job_user: bool = True,
        port: int = 0,
        **export: Any,
    ) -> None:
        super().__init__(**export)
        self.account, self.table, self.page_rows = account, table, page_rows
        self.public_key, self.email = account.public_key, account.email
        self.data_viewer, self.job_user = data_viewer, job_user
        self.requests: list[tuple[str, str, dict[str, list[str]], Any]] = []
        self.queries: list[tuple[str, dict[str, Any]]] = []
        self.tokens: dict[str, tuple[str, float, str]] = {}  # token → (email, expiry, scope)
        self._jobs: dict[str, dict[str, Any]] = {}
        self._faults: list[dict[str, Any]] = []
        self._malformed: dict[int, tuple[str, str | None]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.listen(_Handler, port=port)

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def key_file(self) -> str:
        """The known account's JSON key, its `token_uri` this server's."""
        return self.account.key_file(self.token_uri)

    # ---- knobs ----------------------------------------------------------------------------

    def fail(
        self,
        status: int,
        reason: str,
        *,
        at: int = 1,
        times: int | None = 1,
        retry_after: int | None = None,
        path: str = "",
    ) -> None:
        """Answer `status` with `reason` to the `at`-th next request whose path contains `path`,
        and to the `times - 1` after it (None: forever); `retry_after` adds the header."""
        self._faults.append(
            {"status": status, "reason": reason, "at": at, "times": times, "after": retry_after,
             "path": path, "seen": 0}
        )  # fmt: skip

    def heal(self) -> None:
        """Forget every fault still pending."""
        self._faults.clear()

    def malform(self, *, page: int, column: str, value: str | None = "abc") -> None:
        """On result page `page` (1-based) of every query, set `column` of its first row to `value`."""
        self._malformed[page] = (column, value)

    # ---- HTTP -------------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, auth: str | None, body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        url = urlsplit(raw_path)
        query = parse_qs(url.query, keep_blank_values=True)
        with self._lock:
            self.requests.append((method, url.path, query, body.decode(errors="replace")))
            fault = next((f for f in self._faults if self._trips(f, url.path)), None)
        if fault is not None:
            headers = {"Retry-After": str(fault["after"])} if fault["after"] is not None else {}
            message = _MESSAGES.get(fault["reason"], "fake fault")
            if url.path == "/token":
                return fault["status"], {"error": fault["reason"], "error_description": message}, headers
            status, payload = _error(fault["status"], fault["reason"], message)
            return status, payload, headers
        if url.path == "/token" and method == "POST":
            status, payload = self._token(parse_qs(body.decode()))
            return status, payload, {}
        if not url.path.startswith("/bigquery/v2/projects/"):
            return (*_error(404, "notFound", f"Not found: {url.path}"), {})
        granted = self._granted(auth)
        if granted is not None:
            return (*granted, {})
        parts = url.path.removeprefix("/bigquery/v2/projects/").split("/")
        try:
            status, payload = self._route(method, parts, query, json.loads(body) if body else {})
        except QueryError as exc:
            status, payload = _error(exc.status, exc.reason, str(exc))
        return status, payload, {}

    def _trips(self, fault: dict[str, Any], path: str) -> bool:
        if fault["path"] not in path:
            return False
        fault["seen"] += 1
        until = None if fault["times"] is None else fault["at"] + fault["times"]
        return bool(fault["at"] <= fault["seen"] and (until is None or fault["seen"] < until))

    def _token(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        """The JWT-bearer grant: verify the assertion's signature and claims, issue a token."""

        def invalid(description: str) -> tuple[int, dict[str, Any]]:
            return 400, {"error": "invalid_grant", "error_description": description}

        if form.get("grant_type") != [JWT_BEARER] or len(form.get("assertion", [])) != 1:
            return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
        try:
            header, claims, signature = form["assertion"][0].split(".")
            head, body = json.loads(_b64(header)), json.loads(_b64(claims))
        except ValueError:
            return invalid("Invalid JWT: the assertion is not a JWT.")
        if head.get("alg") != "RS256":
            return invalid("Invalid JWT: the signing algorithm must be RS256.")
        if body.get("iss") != self.email:
            return invalid("Invalid grant: account not found")
        try:
            self.public_key.verify(
                _b64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception:
            return invalid("Invalid JWT Signature.")
        if body.get("aud") != AUDIENCE:
            return invalid(f"Invalid JWT: audience must be {AUDIENCE}")
        now = time.time()
        if not body.get("iat", 0) - 300 <= now <= body.get("exp", 0) + 300:
            return invalid("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.")
        scope = str(body.get("scope", ""))
        token = f"ya29.fake-{uuid.uuid4().hex}"
        with self._lock:
            self.tokens[token] = (body["iss"], now + 3600, scope)
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _granted(self, auth: str | None) -> tuple[int, dict[str, Any]] | None:
        """None when the bearer token is one this fake issued, alive, with a BigQuery scope."""
        token = (auth or "").removeprefix("Bearer ")
        issued = self.tokens.get(token)
        if issued is None or issued[1] < time.time():
            return _error(
                401,
                "authError",
                "Request is missing required authentication credential. Expected OAuth 2 access token, "
                "login cookie or other valid authentication credential.",
            )
        if not set(issued[2].split()) & set(BIGQUERY_SCOPES):
            return _error(403, "insufficientPermissions", "Request had insufficient authentication scopes.")
        return None

    def _route(
        self, method: str, parts: list[str], query: dict[str, list[str]], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        project = parts[0]
        if method == "GET" and len(parts) == 5 and parts[1] == "datasets" and parts[3] == "tables":
            return self._table(project, parts[2], parts[4])
        if method == "POST" and parts[1:] == ["queries"]:
            return self._query(project, body)
        if method == "POST" and parts[1:] == ["jobs"]:
            return self._insert(project, body)
        if method == "GET" and len(parts) == 3 and parts[1] == "queries":
            return self._results(self._job(parts[2]), query)
        if method == "GET" and len(parts) == 3 and parts[1] == "jobs":
            return 200, self._job_resource(self._job(parts[2]))
        if method == "POST" and len(parts) == 4 and parts[1] == "jobs" and parts[3] == "cancel":
            return 200, {"kind": "bigquery#jobCancelResponse", "job": self._job_resource(self._job(parts[2]))}
        return _error(404, "notFound", f"Not found: URL /{'/'.join(parts)}")

    # ---- tables and jobs ----------------------------------------------------------------------

    def _qualified(self, name: str) -> str:
        project, dataset, table = name.rsplit(".", 2)
        return f"{project}:{dataset}.{table}"

    def _readable(self, name: str) -> None:
        """The table exists and the account may read it, or BigQuery's 404 / 403."""
        if name != self.table:
            raise QueryError(
                404, "notFound", f"Not found: Table {self._qualified(name)} was not found in location US"
            )
        if not self.data_viewer:
            raise QueryError(
                403,
                "accessDenied",
                f"Access Denied: Table {self._qualified(name)}: User does not have permission to query table "
                f"{self._qualified(name)}, or perhaps it does not exist.",
            )

    def _table(self, project: str, dataset: str, table: str) -> tuple[int, dict[str, Any]]:
        name = f"{project}.{dataset}.{table}"
        self._readable(name)
        with self.db_lock:
            relation = self.db.sql("SELECT * FROM export LIMIT 0")
            fields = _fields(list(zip(relation.columns, relation.dtypes, strict=True)))
            rows = self.db.execute("SELECT count(*) FROM seed").fetchall()[0][0]
        reference = {"projectId": project, "datasetId": dataset, "tableId": table}
        return 200, {
            "kind": "bigquery#table",
            "id": self._qualified(name),
            "tableReference": reference,
            "schema": {"fields": fields},
            "numRows": str(rows),
            "numBytes": str(rows * 600),
            "type": "TABLE",
            "location": "US",
            "timePartitioning": {"type": "DAY"},
            "creationTime": "1735689600000",
            "lastModifiedTime": str(int(time.time() * 1000)),
        }

    def _job(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise QueryError(404, "notFound", f"Not found: Job {job_id}")
        return job

    def _query(self, project: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """jobs.query: run the statement now; the first page comes back with the job."""
        job = self._run(project, body.get("query", ""), body, dry=bool(body.get("dryRun")))
        if job["dry"]:
            return 200, {"kind": "bigquery#queryResponse", "jobComplete": True, "schema": job["schema"],
                         "totalBytesProcessed": job["bytes"], "cacheHit": False}  # fmt: skip
        status, page = self._results(
            job, {"maxResults": [str(body["maxResults"])]} if "maxResults" in body else {}
        )
        return status, page | {"kind": "bigquery#queryResponse"}

    def _insert(self, project: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        config = body.get("configuration", {})
        query = config.get("query", {})
        job = self._run(project, query.get("query", ""), query, dry=bool(config.get("dryRun")))
        if reference := body.get("jobReference"):
            job["reference"] |= {k: v for k, v in reference.items() if k in ("jobId", "projectId")}
        return 200, self._job_resource(job)

    def _run(self, project: str, sql: str, spec: dict[str, Any], *, dry: bool) -> dict[str, Any]:
        """Check, translate and run one statement; the job keeps its rows for the pages."""
        if not self.job_user:
            raise QueryError(
                403,
                "accessDenied",
                f"Access Denied: Project {project}: User does not have bigquery.jobs.create permission "
                f"in project {project}.",
            )
        if spec.get("useLegacySql", True) is not False:
            raise QueryError(400, "invalidQuery", "This fake speaks GoogleSQL only: set useLegacySql false")
        translated, used = self._translate(sql)
        params: dict[str, Any] = {}
        for p in spec.get("queryParameters", []):
            params[p["name"]] = _param(p["parameterType"], p.get("parameterValue"))
        for name in sorted(used - set(params)):
            raise QueryError(400, "invalidQuery", f"Query parameter '{name}' not found")
        params = {k: v for k, v in params.items() if k in used}
        job_id = f"job_{next(self._ids):04d}_{uuid.uuid4().hex[:12]}"
        with self.db_lock:
            try:
                statement = f"SELECT * FROM ({translated}) LIMIT 0" if dry else translated
                cursor = self.db.execute(statement, params)
                rows = cursor.fetchall()
                schema = _fields([(d[0], d[1]) for d in cursor.description or []])
            except duckdb.Error as exc:
                raise QueryError(400, "invalidQuery", f"{type(exc).__name__}: {exc}") from None
        with self._lock:
            self.queries.append((sql, params))
        job = {
            "reference": {"projectId": project, "jobId": job_id, "location": "US"},
            "sql": sql,
            "dry": dry,
            "schema": {"fields": schema},
            "rows": [{"f": [{"v": _cell(v)} for v in row]} for row in rows],
            "bytes": str(self.rows() * 120),
            "created": str(int(time.time() * 1000)),
        }
        if not dry:
            with self._lock:
                self._jobs[job_id] = job
        return job

    def _translate(self, sql: str) -> tuple[str, set[str]]:
        """BigQuery SQL → DuckDB SQL on the export, and the parameters it uses."""
        try:
            tree = sqlglot.parse_one(sql, read="bigquery")
        except sqlglot.errors.ParseError as exc:
            raise QueryError(400, "invalidQuery", f"Syntax error: {exc}") from None
        ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
        for table in tree.find_all(exp.Table):
            name = ".".join(part for part in (table.catalog, table.db, table.name) if part)
            if name in ctes or not name:
                continue
            self._readable(name)
            table.set("catalog", None)
            table.set("db", None)
            table.set("this", exp.to_identifier("export"))
        for kind in list(tree.find_all(exp.DataType)):  # NUMERIC is DECIMAL(38, 9) in BigQuery
            if kind.this == exp.DataType.Type.DECIMAL and not kind.expressions:
                kind.replace(exp.DataType.build("DECIMAL(38, 9)"))
        used = {p.name for p in tree.find_all(exp.Parameter)}
        return tree.sql("duckdb", identify=True), used

    def _results(self, job: dict[str, Any], query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        """A page of a job's rows: from `pageToken` (or `startIndex`), at most `maxResults`."""
        rows: list[dict[str, Any]] = job["rows"]
        token = query.get("pageToken", [None])[0]
        if token:
            job_id, _, offset = base64.urlsafe_b64decode(token).decode().rpartition(":")
            if job_id != job["reference"]["jobId"]:
                raise QueryError(400, "invalid", "Invalid page token")
            start = int(offset)
        else:
            start = int(query.get("startIndex", ["0"])[0])
        asked = int(query.get("maxResults", [str(self.page_rows)])[0])
        stop = min(len(rows), start + min(asked, self.page_rows))
        page = [json.loads(json.dumps(r)) for r in rows[start:stop]]
        number = start // max(1, min(asked, self.page_rows)) + 1
        if page and number in self._malformed:
            column, value = self._malformed[number]
            names = [f["name"] for f in job["schema"]["fields"]]
            page[0]["f"][names.index(column)]["v"] = value
        out: dict[str, Any] = {
            "kind": "bigquery#getQueryResultsResponse",
            "etag": job["reference"]["jobId"],
            "schema": job["schema"],
            "jobReference": job["reference"],
            "totalRows": str(len(rows)),
            "totalBytesProcessed": job["bytes"],
            "jobComplete": True,
            "cacheHit": False,
        }
        if page:
            out["rows"] = page
        if asked > 0 and stop < len(rows):
            out["pageToken"] = base64.urlsafe_b64encode(
                f"{job['reference']['jobId']}:{stop}".encode()
            ).decode()
        if fields := query.get("fields"):  # a partial response: only the fields asked for
            out = {k: v for k, v in out.items() if k in fields[0].split(",")}
        return 200, out

    def _job_resource(self, job: dict[str, Any]) -> dict[str, Any]:
        reference = job["reference"]
        stats = {"totalBytesProcessed": job["bytes"], "statementType": "SELECT", "cacheHit": False}
        return {
            "kind": "bigquery#job",
            "id": f"{reference['projectId']}:US.{reference['jobId']}",
            "jobReference": reference,
            "configuration": {"jobType": "QUERY", "query": {"query": job["sql"], "useLegacySql": False},
                              "dryRun": job["dry"]},
            "status": {"state": "DONE"},
            "statistics": {
                "creationTime": job["created"],
                "startTime": job["created"],
                "endTime": job["created"],
                "totalBytesProcessed": job["bytes"],
                "query": stats | {"schema": job["schema"], "totalBytesProcessed": job["bytes"]},
            },
            "user_email": self.email,
        }  # fmt: skip
