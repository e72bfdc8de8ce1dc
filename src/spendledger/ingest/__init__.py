"""Every way metered events come in: the events API's batch, OTLP spans, the SDK's database sink.

    event.py    the event's fields, declared once (standard library only: the SDK imports it)
    model.py    EventIn: those fields with each column's constraints, as a pydantic model
    scan.py     where each event of a raw batch lies, without a recursive parser
    batch.py    a raw batch → valid events and the rejections of the others
    records.py  events → priced records → the ledger; the process's Pricer cache
    otlp.py     OTLP trace exports → events
    hooks.py    how the app hears that new data arrived (alerts are evaluated then)

Nothing here imports the web layer or the scheduler; the web routes parse the request,
call one function here and render its result. This file imports nothing, so that the
SDK can import `spendledger.ingest.event` with the standard library alone.
"""
