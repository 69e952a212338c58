"""ocf:hakit:lvs's steps: an LVS (IPVS) director whose connections survive failover.

- ``definition``: the service definition's text form, parsed and validated (pure);
- ``healthcheck``: real-server probes, the bounded pool, rise/fall state;
- ``sync``: the sync daemons' roles and the warm-up record.
"""
