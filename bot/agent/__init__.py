"""The agent loop on Claude: investigate a ticket with tools, resume from events, hand off.

Entry points: `bot.agent.factory.build_agent` (and `build_agent_for_worker`), the handler
`bot.agent.loop.AgentHandler`. Nothing is imported here so that commands which only read the
agent's events (`steadfast answer`, `replay`) do not load the model SDK.
"""
