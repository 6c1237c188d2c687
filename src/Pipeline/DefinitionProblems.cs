namespace Distil.Pipeline;

/// <summary>
/// Gathers every mistake found while checking a definition, so that one <c>validate</c> reports them all
/// instead of the first. Checks written as "throw on the first problem" are run through <see cref="Check"/>,
/// which records their error and lets the caller go on with the next section.
/// </summary>
public sealed class DefinitionProblems
{
    private readonly List<PipelineDefinitionException> _found = [];

    public int Count => _found.Count;

    public void Add(PipelineDefinitionException problem)
    {
        if (problem.Problems.Count > 1)
        {
            _found.AddRange(problem.Problems);
        }
        else
        {
            _found.Add(problem);
        }
    }

    /// <summary>Runs <paramref name="check"/>; returns false (and records the error) when it found a problem.</summary>
    public bool Check(Action check)
    {
        try
        {
            check();
            return true;
        }
        catch (PipelineDefinitionException e)
        {
            Add(e);
            return false;
        }
    }

    /// <summary>Runs <paramref name="read"/>; returns <paramref name="fallback"/> (and records the error) when it found a problem.</summary>
    public T Check<T>(Func<T> read, T fallback)
    {
        try
        {
            return read();
        }
        catch (PipelineDefinitionException e)
        {
            Add(e);
            return fallback;
        }
    }

    /// <summary>Throws one exception listing every problem, in the order of the file's lines, if any was found.</summary>
    public void ThrowIfAny()
    {
        if (_found.Count > 0)
        {
            throw PipelineDefinitionException.Combine(_found);
        }
    }
}
