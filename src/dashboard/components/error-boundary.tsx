import { Component, type ComponentChildren } from 'preact';
import { ErrorView } from './error-view.tsx';

/**
 * A page that throws while rendering shows its error and a way out instead of a blank app: the
 * header and its navigation stay usable (the boundary sits around the page only, keyed by path,
 * so going elsewhere starts afresh).
 */
export class ErrorBoundary extends Component<{ children: ComponentChildren }, { error?: unknown }> {
  static override getDerivedStateFromError(error: unknown) {
    return { error };
  }

  override componentDidCatch(error: unknown) {
    // Kept in the console for whoever reports it: the page itself shows only the message.
    console.error(error);
  }

  override render() {
    if (this.state.error === undefined) return this.props.children;
    return (
      <section class="page-failed">
        <ErrorView error={this.state.error} title="This page failed" />
        <button type="button" onClick={() => location.reload()}>
          Reload
        </button>
      </section>
    );
  }
}
