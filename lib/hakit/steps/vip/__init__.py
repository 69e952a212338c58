"""ocf:hakit:vip's steps: its configuration record (``config``), where the address goes
(``resolve``), the conflict checks before it is added (``dad``), and the actions
(``actions``)."""
