"""ocf:hakit:lvs's steps: an LVS (IPVS) director whose connections survive failover.

- ``config``: the parameters and the typed record ``LvsConfig`` made from them;
- ``definition``: the service definition's text form, parsed and validated (pure);
- ``healthcheck``: real-server probes, the bounded pool, rise/fall state;
- ``checkround``: one resource's round of due checks, its state kept on /run;
- ``runtime``: the resource's runtime directory (what it created);
- ``table``: the kernel's IPVS table made to match the definition and the health state;
- ``sync``: the sync daemons' roles and the warm-up record;
- ``role``: sync tuning, the sync link, warm-up and the promotion score;
- ``actions``: start, stop, monitor, promote, demote, reload and the host checks.
"""
