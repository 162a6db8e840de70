"""Assessment: protocols as data, the protocol runner, trial analysis, left/right and before/after scoring.

``protocols`` (what to do), ``runner`` (doing it on a board, storing everything), ``analysis`` (a
recorded trial -> stance, step-off, window, metrics, RDL reps), ``scoring`` (metric tables -> L/R
verdicts and before/after verdicts). See docs/ASSESSMENT.md.
"""
