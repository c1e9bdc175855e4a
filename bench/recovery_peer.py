"""The peer in the crash-recovery benchmark: a LangGraph agent graph running the same scripted
investigation as Steadfast, against the same emulators.

`agent` node: one Messages API call through the anthropic SDK (same tool schemas as Steadfast,
job id in `metadata.user_id` so the emulator counts per run). `tools` node: the tool calls of
that answer, executed as HTTP GETs against the Kubernetes and Loki emulators. With `--conninfo`
the graph is compiled with `PostgresSaver` and run with `durability="sync"`; `--resume` continues
the thread with `graph.invoke(None, config)`. Without `--conninfo` there is no checkpointer: the
"restart from scratch" baseline.

    python bench/recovery_peer.py --thread T --anthropic URL --kube URL --kube-token TOK \
        --loki URL [--conninfo postgresql://...] [--resume]
"""

from __future__ import annotations

import argparse
import json
import operator
import sys
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anthropic
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bot.agent.tools import tool_definitions

TICKET = "scenario:bench20 tenant acme: customers cannot log in, auth-api looks unhealthy"
_APPS = {"deployments", "replicasets", "statefulsets", "daemonsets"}


class AgentState(TypedDict):
    messages: Annotated[list[dict[str, Any]], operator.add]
    done: bool


class Tools:
    """The read-only tools the script uses, as plain HTTP GETs."""

    def __init__(self, kube: str, kube_token: str, loki: str) -> None:
        self.kube = httpx.Client(
            base_url=kube, headers={"Authorization": f"Bearer {kube_token}"}, timeout=10
        )
        self.loki = httpx.Client(base_url=loki, timeout=10)

    def _kube_path(self, resource: str, namespace: str) -> str:
        if resource in _APPS:
            prefix = "/apis/apps/v1"
        elif resource == "jobs":
            prefix = "/apis/batch/v1"
        else:
            prefix = "/api/v1"
        return f"{prefix}/namespaces/{namespace}/{resource}"

    def run(self, name: str, args: dict[str, Any]) -> str:
        if name == "k8s_list":
            params = {"labelSelector": args["label_selector"]} if args.get("label_selector") else {}
            r = self.kube.get(self._kube_path(args["resource"], args["namespace"]), params=params)
        elif name == "k8s_get":
            r = self.kube.get(
                f"{self._kube_path(args['resource'], args['namespace'])}/{args['name']}"
            )
        elif name == "query_logs":
            end = time.time_ns()
            start = end - int(args.get("since_minutes", 60)) * 60 * 10**9
            params = {
                "query": args["query"],
                "start": str(start),
                "end": str(end),
                "limit": str(args.get("limit", 100)),
            }
            r = self.loki.get("/loki/api/v1/query_range", params=params)
        else:
            return f"unknown tool {name}"
        return r.text[:8000]


def build_graph(client: anthropic.Anthropic, tools: Tools, job: str, checkpointer: Any) -> Any:
    from langgraph.graph import END, START, StateGraph

    defs = tool_definitions()

    def agent(state: AgentState) -> dict[str, Any]:
        # plain dicts in the API's shapes; the SDK's TypedDict overloads do not take dict[str, Any]
        reply = client.messages.create(  # type: ignore[call-overload]
            model="claude-sonnet-5-5",
            max_tokens=1024,
            tools=defs,
            messages=state["messages"],
            metadata={"user_id": job},
        )
        content = [b.model_dump(exclude_none=True) for b in reply.content]
        return {"messages": [{"role": "assistant", "content": content}]}

    def run_tools(state: AgentState) -> dict[str, Any]:
        results: list[dict[str, Any]] = []
        done = False
        for block in state["messages"][-1]["content"]:
            if block.get("type") != "tool_use":
                continue
            if block["name"] == "submit_handoff":
                done = True
                text = "handoff accepted"
            else:
                text = tools.run(block["name"], block["input"])
            results.append({"type": "tool_result", "tool_use_id": block["id"], "content": text})
        return {"messages": [{"role": "user", "content": results}], "done": done}

    def after_agent(state: AgentState) -> str:
        uses = [b for b in state["messages"][-1]["content"] if b.get("type") == "tool_use"]
        return "tools" if uses else END

    def after_tools(state: AgentState) -> str:
        return END if state.get("done") else "agent"

    g = StateGraph(AgentState)
    g.add_node("agent", agent)
    g.add_node("tools", run_tools)
    g.add_edge(START, "agent")
    g.add_conditional_edges("agent", after_agent)
    g.add_conditional_edges("tools", after_tools)
    return g.compile(checkpointer=checkpointer)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--thread", required=True)
    ap.add_argument("--anthropic", required=True)
    ap.add_argument("--kube", required=True)
    ap.add_argument("--kube-token", required=True)
    ap.add_argument("--loki", required=True)
    ap.add_argument("--conninfo", default=None)
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()
    client = anthropic.Anthropic(api_key="sk-bench", base_url=args.anthropic, max_retries=2)
    tools = Tools(args.kube, args.kube_token, args.loki)
    config: dict[str, Any] = {"configurable": {"thread_id": args.thread}, "recursion_limit": 200}
    # the harness times process start-up (imports, clients) separately from the resume itself
    print("ready", flush=True)
    first: dict[str, Any] | None = {"messages": [{"role": "user", "content": TICKET}]}
    if args.conninfo is None:
        graph = build_graph(client, tools, args.thread, None)
        final = graph.invoke(first, config)
    else:
        from langgraph.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(args.conninfo) as saver:
            saver.setup()
            graph = build_graph(client, tools, args.thread, saver)
            final = graph.invoke(None if args.resume else first, config, durability="sync")
    print(json.dumps({"done": bool(final.get("done")), "messages": len(final["messages"])}))


if __name__ == "__main__":
    main()
