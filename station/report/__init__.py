"""Reports and exports of stored sessions (headless: matplotlib Agg + reportlab, never Qt).

Public API::

    from station.report.pdf import write_session_report      # (store, session_id, path, *, pseudonymise=False) -> Path
    from station.report.exports import export_session         # (store, session_id, out_dir, *, fmt, pseudonymise=False) -> [Path]

Modules: ``session`` (gathers one session, pseudonymised or not), ``pseudonym`` (HMAC pseudonyms with
the installation's key), ``samples`` (per-trial force/COP series), ``figures`` (matplotlib figures),
``pdf`` (the clinic report), ``csv_export``, ``json_export``, ``c3d_export``, ``definitions``.
"""
