using Npgsql;

namespace Distil.Server.Storage;

/// <summary>
/// Retries a database call through a Postgres restart or a dropped connection: the store must outlive
/// the database blinking, or a run would fail for nothing. Only connection-level failures are retried.
/// </summary>
internal static class TransientRetry
{
    private static readonly TimeSpan[] Delays =
        [TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2),
         TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10)];

    public static async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> action, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await action(cancellationToken);
            }
            catch (Exception e) when (attempt < Delays.Length && IsTransient(e) && !cancellationToken.IsCancellationRequested)
            {
                // Pooled connections died with the server; drop them all rather than failing on each in turn.
                NpgsqlConnection.ClearAllPools();
                await Task.Delay(Delays[attempt], cancellationToken);
            }
        }
    }

    public static Task RunAsync(Func<CancellationToken, Task> action, CancellationToken cancellationToken) =>
        RunAsync<bool>(async ct => { await action(ct); return true; }, cancellationToken);

    public static bool IsTransient(Exception e) => e switch
    {
        PostgresException p => p.SqlState.StartsWith("57P", StringComparison.Ordinal) || p.SqlState.StartsWith("08", StringComparison.Ordinal),
        NpgsqlException n => n.IsTransient || n.InnerException is IOException or System.Net.Sockets.SocketException,
        IOException or System.Net.Sockets.SocketException or TimeoutException => true,
        _ => false,
    };
}
