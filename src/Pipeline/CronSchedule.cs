using Cronos;

namespace Distil.Pipeline;

/// <summary>Checks a cron expression the way Hangfire reads it (5 fields, or 6 with seconds first; macros such as @daily), in UTC.</summary>
public static class CronSchedule
{
    /// <summary>Null when <paramref name="cron"/> parses, else what is wrong.</summary>
    public static string? Problem(string cron)
    {
        var fields = cron.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
        try
        {
            CronExpression.Parse(cron.Trim(), fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard);
            return null;
        }
        catch (CronFormatException e)
        {
            return e.Message;
        }
    }

    /// <summary>Returns <paramref name="cron"/>, or throws a located error about parameter <paramref name="key"/>.</summary>
    internal static string Check(string cron, StepParameters where, string key) => Problem(cron) is { } problem
        ? throw where.Error(key, $"{PipelineDefinitionException.Quote(cron)} is not a cron expression ({problem}); use 5 fields (minute hour day month weekday, e.g. \"0 3 * * *\"), 6 with seconds first, or @daily/@hourly")
        : cron;
}
