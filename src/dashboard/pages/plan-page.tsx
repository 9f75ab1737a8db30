import type { PageProps } from '../routes.ts';

/** Placeholder: the plan page is built by its own change. */
export default function Page(props: PageProps) {
  return (
    <section>
      <h1>plan</h1>
      <p>{props.params.join(' / ')}</p>
    </section>
  );
}
