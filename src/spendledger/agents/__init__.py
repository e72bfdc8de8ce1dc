"""Coding agents' local session logs → metered events → the ledger or a server's ingest API.

`spendledger agents import claude-code|codex|gemini-cli` reads the logs Claude Code,
OpenAI's Codex CLI and Gemini CLI write on each developer's machine, so the spend of every
laptop reaches the team's ledger:

    calls.py        AgentCall (one billed model call read from a log) and LogProblem (file:line)
    claude_code.py  ~/.claude/projects/**/*.jsonl → calls
    codex.py        ~/.codex/sessions/**/rollout-*.jsonl → calls
    gemini_cli.py   ~/.gemini/tmp/<project>/chats/*.json|*.jsonl → calls
    logfiles.py     where each tool writes, and reading files as they grow (`--watch`)
    attribution.py  who (the option, else the repository's git email, else the OS user) and
                    which project (the repository folder of the session's working directory)
    events.py       a call → the ingest API's event (`ingest.event.Event`), priced for its
                    usage value; the covered-by-a-subscription rule
    delivery.py     where the events go: this ledger (through `ingest.batch.store_batch`, the
                    events API's own path) or a server's POST /api/v1/events
    importer.py     the run: read, de-duplicate, send in batches; once, or following the files
    usage.py        what was read back from the ledger: spend and covered usage value

Invariants:
- nothing lost, nothing doubled: every call's event id comes from the log itself, never
  from our counting (Claude Code `claude-code:<message id>`, Codex
  `codex:<session id>:<the token_count line's timestamp>`, Gemini CLI
  `gemini-cli:<message id>`), and the ledger stores an event id once, whatever its
  timestamp; a re-import, an overlapping run, `--watch` after a batch import, or the
  same logs sent from a laptop and written locally change nothing;
- de-duplication follows each tool's way of writing:
  * Claude Code writes one response as several lines (one per content block) repeating
    its `message.id` and usage; a `/btw` sidechain replays parent messages under the same
    message id with a new request id (ccusage #913); a resumed session copies earlier
    messages into its new file. ccusage de-duplicates on message id + request id and then
    drops sidechain copies of main-chain message ids; a response id is unique, so we key
    on the message id alone, which drops all three by construction, across runs too.
    When one read meets an id twice it keeps the main-chain line over a sidechain one,
    then the larger token total, then the one that states `speed` (ccusage's rule);
  * Codex: the per-turn `last_token_usage` of `event_msg`/`token_count` lines, never the
    running `total_token_usage`, which only tells a re-emitted event (an unchanged running
    total: a rate-limit refresh, not a call; ccusage #876, #1288) from a new turn; a
    forked or sub-agent session replays its parent's token counts in a burst within its
    first second, which is dropped (they were counted in the parent's file);
  * Gemini CLI appends a message again each time it changes; one id is one call, and a
    `$rewindTo` does not un-bill the calls it hides.
- token counts follow the ledger's contract (records.TokenCounts): Claude's disjoint
  input/cache counts are added up, its 1-hour cache writes kept apart from 5-minute ones
  (priced at 2x input, not 1.25x); Codex's cached input is part of its input and its
  reasoning part of its output; Gemini's cached part of its prompt, its tool-use prompt
  added to the input, its thoughts to the output (as reasoning).
- pricing and names apply once, where every metered event's do: events go through
  `ingest.batch.store_batch` (ledger mode) or the server's events API (`--send`), which
  canonicalise the model and price from the catalogue and the ledger's overrides.
- a malformed line is reported with its file and line number and skipped; the good lines
  of the same file are kept.

Calls covered by a flat subscription (`--covered-by claude-max`, Claude Max or ChatGPT
Plus paying for Claude Code or Codex) are the subscription's spend, which a manual or
subscription entry already counts: each is stored as a metered event with `cost` 0 (the
"provider" status: never re-priced, so never counted as spend by any view, total or
budget), and what the call would have cost at list prices kept in its tags:
`covered_by` (the plan), `usage_value` (a decimal string) and `usage_value_currency`.
The dashboard's and `spendledger report`'s totals therefore exclude it with no change
to any query, its tokens and requests still count, and `spendledger agents report`
(table or JSON) shows per tool and plan the spend counted beside the usage value covered
(what the subscription saved). A dedicated basis would have had every view, rollup and
budget learn it; a tag keeps the rule in this package. The value is priced where the
import runs: from the ledger's overrides in ledger mode, from the catalogue alone with
`--send` (the server's overrides are not visible to a laptop).
"""
