import type { PlanTicket } from '../../api/plans.ts';

export interface PlacedNode {
  ticket: PlanTicket;
  depth: number;
  row: number;
  x: number;
  y: number;
}

export interface PlacedEdge {
  from: string;
  to: string;
  /** An SVG path from the right side of `from` to the left side of `to`. */
  path: string;
}

export const nodeWidthPx = 210;
export const nodeHeightPx = 92;
const columnGapPx = 56;
const rowGapPx = 16;

/**
 * The plan's DAG laid out by dependency depth: a ticket's column is one more than its deepest
 * dependency's, rows in the plan's order; edges are curves between the columns. Plans are small
 * (at most 50 tickets) and checked acyclic by the API, so this needs no layout library.
 */
export function layOutPlan(tickets: PlanTicket[]): {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  widthPx: number;
  heightPx: number;
} {
  const byKey = new Map(tickets.map((ticket) => [ticket.key, ticket]));
  const depths = new Map<string, number>();
  const depthOf = (key: string, seen: Set<string>): number => {
    const known = depths.get(key);
    if (known !== undefined) return known;
    const ticket = byKey.get(key);
    // An unknown key or a cycle (the API refuses both) counts as a root rather than hanging.
    if (!ticket || seen.has(key)) return 0;
    seen.add(key);
    const depth = Math.max(-1, ...ticket.dependsOn.map((on) => depthOf(on, seen))) + 1;
    depths.set(key, depth);
    return depth;
  };
  const rows = new Map<number, number>();
  const nodes = tickets.map((ticket) => {
    const depth = depthOf(ticket.key, new Set());
    const row = rows.get(depth) ?? 0;
    rows.set(depth, row + 1);
    return {
      ticket,
      depth,
      row,
      x: depth * (nodeWidthPx + columnGapPx),
      y: row * (nodeHeightPx + rowGapPx),
    };
  });
  const placed = new Map(nodes.map((node) => [node.ticket.key, node]));
  const edges: PlacedEdge[] = [];
  for (const node of nodes) {
    for (const on of node.ticket.dependsOn) {
      const from = placed.get(on);
      if (!from) continue;
      const startX = from.x + nodeWidthPx;
      const startY = from.y + nodeHeightPx / 2;
      const endX = node.x;
      const endY = node.y + nodeHeightPx / 2;
      const bend = (endX - startX) / 2;
      edges.push({
        from: on,
        to: node.ticket.key,
        path: `M ${startX} ${startY} C ${startX + bend} ${startY}, ${endX - bend} ${endY}, ${endX} ${endY}`,
      });
    }
  }
  const columns = Math.max(0, ...nodes.map((node) => node.depth + 1));
  const maxRows = Math.max(0, ...rows.values());
  return {
    nodes,
    edges,
    widthPx: Math.max(0, columns * (nodeWidthPx + columnGapPx) - columnGapPx),
    heightPx: Math.max(0, maxRows * (nodeHeightPx + rowGapPx) - rowGapPx),
  };
}
