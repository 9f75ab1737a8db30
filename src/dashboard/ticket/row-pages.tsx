import { Component, type ComponentChildren } from 'preact';

/** Rows per page: a full page is never rendered again. */
export const rowsPerPage = 200;

interface PageProps<Row> {
  rows: readonly (Row | undefined)[];
  start: number;
  end: number;
  /** Only the last page gets the list's version: rows of it may still change. */
  version: number;
  render: (row: Row, index: number) => ComponentChildren;
  /** What the rows' rendering depends on besides the rows (compared by identity). */
  context?: unknown;
}

class RowPage<Row> extends Component<PageProps<Row>> {
  override shouldComponentUpdate(next: PageProps<Row>): boolean {
    return (
      next.start !== this.props.start ||
      next.end !== this.props.end ||
      next.version !== this.props.version ||
      next.rows !== this.props.rows ||
      next.context !== this.props.context
    );
  }

  override render() {
    const { rows, start, end, render } = this.props;
    const children: ComponentChildren[] = [];
    for (let index = start; index < end; index++) {
      const row = rows[index];
      if (row !== undefined) children.push(render(row, index));
    }
    return <>{children}</>;
  }
}

/**
 * A long, growing list (a ticket's events, a job's output) rendered in pages of
 * `rowsPerPage`: `rows` is appended to in place and `version` bumped, and only the last page
 * renders again, so an append costs the same on the ten-thousandth row as on the first.
 * Rows before `first` are gone (a trimmed log): their pages are not rendered.
 */
export function RowPages<Row>(props: {
  rows: readonly (Row | undefined)[];
  version: number;
  first?: number;
  render: (row: Row, index: number) => ComponentChildren;
  context?: unknown;
}) {
  const { rows, version, render } = props;
  const count = rows.length;
  const firstPage = Math.floor((props.first ?? 0) / rowsPerPage);
  const lastPage = Math.ceil(count / rowsPerPage);
  const pages: ComponentChildren[] = [];
  for (let page = firstPage; page < lastPage; page++) {
    const start = Math.max(page * rowsPerPage, props.first ?? 0);
    const end = Math.min(count, (page + 1) * rowsPerPage);
    pages.push(
      <RowPage
        key={page}
        rows={rows}
        start={start}
        end={end}
        version={page === lastPage - 1 ? version : 0}
        render={render}
        context={props.context}
      />,
    );
  }
  return <>{pages}</>;
}
