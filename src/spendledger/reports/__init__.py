"""Reports of a period for people: the monthly (or weekly) PDF and the scheduled digests.

period_report gathers a period's figures (spend through exports.report_figures, budgets and
anomalies through the alerts package) and renders them (exports.pdf); digests sends a
week's or a month's summary to the channels chosen for it, once per period and channel.
"""
