/** An error as the user sees it: what failed, what was said, what to do. */
import { describeError } from '../api/errors.ts';

export function ErrorBox({ error, onRetry, compact }: { error: unknown; onRetry?: () => void; compact?: boolean }) {
  const { title, message, hint } = describeError(error);
  return (
    <div className={`error-box${compact ? ' compact' : ''}`} role="alert">
      <div className="error-title">{title}</div>
      <div className="error-message">{message}</div>
      <div className="error-hint">
        <strong>What to do: </strong>
        {hint}
      </div>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}
