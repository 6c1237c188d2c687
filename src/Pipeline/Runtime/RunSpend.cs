namespace Distil.Pipeline.Runtime;

/// <summary>
/// A run's money, charged as steps report tokens (and as cached batches are read back, so a resumed run's budget
/// covers what the cache cost), and the budget it may not pass: reaching it calls <paramref name="budgetReached"/> once.
/// </summary>
internal sealed class RunSpend(decimal? budget, Action budgetReached)
{
    private readonly object _gate = new();
    private decimal _total;
    private bool _reached;

    public decimal Total
    {
        get
        {
            lock (_gate)
            {
                return _total;
            }
        }
    }

    public bool BudgetReached
    {
        get
        {
            lock (_gate)
            {
                return _reached;
            }
        }
    }

    public void Add(decimal usd)
    {
        bool reachedNow;
        lock (_gate)
        {
            _total += usd;
            reachedNow = !_reached && budget is { } limit && _total >= limit;
            _reached |= reachedNow;
        }

        if (reachedNow)
        {
            budgetReached();
        }
    }
}
