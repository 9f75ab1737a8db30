import type { ElementContent, Root } from 'hast';
import type { ComponentChildren } from 'preact';

/**
 * A hast tree from lowlight as Preact elements: its text as text nodes, its elements as spans
 * carrying only their highlight.js class names. Nothing in it is ever parsed as HTML.
 */
export function hastChildren(root: Root): ComponentChildren {
  return root.children.map((node, index) => renderNode(node as ElementContent, index));
}

function renderNode(node: ElementContent, key: number): ComponentChildren {
  if (node.type === 'text') return node.value;
  if (node.type !== 'element') return null;
  const className = node.properties?.className;
  const classes = Array.isArray(className)
    ? className.filter((name): name is string => typeof name === 'string').join(' ')
    : undefined;
  return (
    <span key={key} class={classes}>
      {node.children.map((child, index) => renderNode(child, index))}
    </span>
  );
}
