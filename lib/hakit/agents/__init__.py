"""The agents: each module declares one AGENT for hakit.ocf.dispatch."""
