"""The process envelope every agent runs in, OCF or fence: the run's logger (``log``), the
one mapping of exceptions to an exit code and a reason (``outcome``), and the metadata
document writer (``xmldoc``).  What differs between the two APIs (the OCF environment and
exit reasons; the fence-agent stdin/argv protocol and metadata format) is a thin adapter on
top: ``hakit.ocf.dispatch`` and ``hakit.fence.dispatch``.
"""
