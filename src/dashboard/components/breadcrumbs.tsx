import { Link } from './link.tsx';

/** Where a page sits: links up to its list (and parents), then the page itself as text. */
export function Breadcrumbs(props: { trail: { title: string; href: string }[]; current: string }) {
  return (
    <nav aria-label="Breadcrumb" class="breadcrumbs">
      <ol>
        {props.trail.map((step) => (
          <li key={step.href}>
            <Link href={step.href}>{step.title}</Link>
          </li>
        ))}
        <li aria-current="page">{props.current}</li>
      </ol>
    </nav>
  );
}
