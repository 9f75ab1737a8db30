import { navigate } from '../router.ts';

export const filterKeys = ['project', 'role', 'model'] as const;
export type FilterKey = (typeof filterKeys)[number];

/**
 * Project, role and model filters, kept in the URL (`?project=app&role=coder`) so a filtered
 * board can be shared and survives a reload; the options are what the owner's tickets and
 * projects hold.
 */
export function BoardFilters(props: {
  query: URLSearchParams;
  options: Record<FilterKey, string[]>;
}) {
  const change = (key: FilterKey, value: string) => {
    const next = new URLSearchParams(props.query);
    if (value) next.set(key, value);
    else next.delete(key);
    const search = next.toString();
    navigate(`/tickets${search ? `?${search}` : ''}`, { replace: true });
  };
  return (
    <div class="toolbar board-filters">
      {filterKeys.map((key) => {
        const selected = props.query.get(key) ?? '';
        const options =
          props.options[key].includes(selected) || !selected
            ? props.options[key]
            : [selected, ...props.options[key]];
        return (
          <span key={key} class="board-filter">
            <label for={`filter-${key}`}>{key.charAt(0).toUpperCase() + key.slice(1)}</label>
            <select
              id={`filter-${key}`}
              value={selected}
              onChange={(event) => change(key, (event.target as HTMLSelectElement).value)}
            >
              <option value="">All</option>
              {options.map((option) => (
                <option key={option} value={option}>
                  {option}
                </option>
              ))}
            </select>
          </span>
        );
      })}
    </div>
  );
}
