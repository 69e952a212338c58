"""Ready Pacemaker configurations for hakit stacks, printed as crmsh or pcs scripts.

``hakit.snippets.cli`` is the command line (``hakit-snippet``, ``python3 -m hakit.snippets``);
``inputs`` checks what the admin types, ``stacks`` turns it into a neutral ``model.Config``,
and ``crm`` / ``pcs`` render that configuration in each tool's syntax.
"""
