import type { PageProps } from '../routes.ts';

/** Placeholder: the jobs page is built by its own change. */
export default function Page(props: PageProps) {
  return (
    <section>
      <h1>jobs</h1>
      <p>{props.params.join(' / ')}</p>
    </section>
  );
}
