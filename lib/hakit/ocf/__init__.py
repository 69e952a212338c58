"""The OCF resource-agent framework: declarations, metadata, environment and dispatch."""
