using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Distil.Engine;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>
/// An <c>openai</c> model with <c>"batch": true</c>: each group of requests a step sends together (one step batch)
/// goes out as one provider batch (a JSONL file, then a batch of it), is polled every <c>poll_seconds</c> until it
/// finishes, and its results are matched back to the requests by <c>custom_id</c> (never by order). Before any
/// polling, the batch's ids are in the run folder (<see cref="BatchJournal"/>): a rerun of the run, after a kill or
/// Ctrl+C, polls the same batch and submits nothing twice. Requests the provider failed (429, 5xx) or left
/// unanswered (an expired or cancelled batch keeps its finished answers) go out again, alone, as a new smaller
/// batch, up to <c>max_retries</c> times; requests it refused (other 4xx) fail their rows at once. A batch the
/// provider refuses as a whole (status failed: a bad file, a quota) fails the step and is forgotten, so a rerun
/// submits anew (as it does when it finds a stored batch that was refused after the earlier run stopped).
/// </summary>
public sealed class BatchApiChatClient : IChatClient, IBatchChatClient
{
    private readonly string _name;
    private readonly BatchApi _api;
    private readonly ChatCompletionCodec _codec;
    private readonly ChatClientMetadata _metadata;
    private readonly string? _journalDirectory;
    private readonly TimeSpan _poll;
    private readonly int _maxResubmissions;

    // Two groups with the same requests (two steps asking the same questions) share one journal: one at a time.
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);

    internal BatchApiChatClient(string name, string model, Uri endpoint, BatchApi api, string? journalDirectory, TimeSpan poll, int maxResubmissions)
    {
        _name = name;
        _api = api;
        _codec = new ChatCompletionCodec(model);
        _metadata = new ChatClientMetadata("openai", endpoint, model);
        _journalDirectory = journalDirectory;
        _poll = poll;
        _maxResubmissions = maxResubmissions;
    }

    /// <summary>The folder under a run folder where <paramref name="model"/>'s batch journals live.</summary>
    public static string JournalDirectory(string runDirectory, string model) => Path.Combine(runDirectory, "batches", model);

    public async Task<IReadOnlyList<BatchChatResult>> GetResponsesAsync(IReadOnlyList<BatchChatRequest> requests, CancellationToken cancellationToken = default)
    {
        if (requests.Count == 0)
        {
            return [];
        }

        var lines = new string[requests.Count];
        for (var i = 0; i < requests.Count; i++)
        {
            lines[i] = Line(CustomId(i), await _codec.RenderAsync(requests[i], cancellationToken).ConfigureAwait(false));
        }

        var digest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Concat(lines))))[..32];
        var gate = _gates.GetOrAdd(digest, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RunAsync(requests, lines, BatchJournal.Open(_journalDirectory, digest), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<IReadOnlyList<BatchChatResult>> RunAsync(IReadOnlyList<BatchChatRequest> requests, string[] lines, BatchJournal journal, CancellationToken cancellationToken)
    {
        var answers = new ChatResponse?[requests.Count];
        var failures = new string?[requests.Count];
        var pending = Enumerable.Range(0, requests.Count).ToList();
        var resumedRounds = journal.Rounds.Count;
        for (var round = 0; pending.Count > 0; round++)
        {
            if (round == journal.Rounds.Count)
            {
                if (round > _maxResubmissions)
                {
                    break;
                }

                var file = await _api.UploadAsync(Encoding.UTF8.GetBytes(string.Concat(pending.Select(i => lines[i]))), cancellationToken).ConfigureAwait(false);
                journal.Add(new BatchRound(file, null, round == 0 ? null : pending.Select(CustomId).ToList()));
            }

            var entry = journal.Rounds[round];
            pending = entry.CustomIds is null ? Enumerable.Range(0, requests.Count).ToList() : entry.CustomIds.Select(IndexOf).ToList();
            if (entry.BatchId is null)
            {
                // Killed between the upload and the journal's batch id: the batch may exist; never create it twice.
                var created = await _api.FindByInputFileAsync(entry.InputFileId, cancellationToken).ConfigureAwait(false)
                    ?? await _api.CreateAsync(entry.InputFileId, cancellationToken).ConfigureAwait(false);
                entry = entry with { BatchId = created.Id };
                journal.Replace(round, entry);
            }

            var job = await PollAsync(entry.BatchId!, cancellationToken).ConfigureAwait(false);
            if (job.Status == "failed")
            {
                journal.Delete();
                if (round >= resumedRounds)
                {
                    throw new InvalidOperationException($"model '{_name}': the provider refused batch {job.Id} as a whole: {job.Errors ?? "no reason given"}");
                }

                // Refused before this run (a quota since freed, a file since fixed): this run submits the requests afresh, once.
                resumedRounds = 0;
                Array.Clear(answers);
                pending = Enumerable.Range(0, requests.Count).ToList();
                round = -1;
                continue;
            }

            var retry = new HashSet<int>(pending);
            foreach (var index in pending)
            {
                failures[index] = null;
            }

            await foreach (var (index, status, body, error) in ResultsAsync(job, requests.Count, cancellationToken).ConfigureAwait(false))
            {
                if (!retry.Contains(index))
                {
                    continue; // answered in an earlier round (a provider may repeat a line); the first answer stands
                }

                if (status == 200 && body is { } completion)
                {
                    answers[index] = await _codec.ReadAsync(requests[index], completion, cancellationToken).ConfigureAwait(false);
                    failures[index] = null;
                    retry.Remove(index);
                }
                else
                {
                    failures[index] = $"batch {job.Id}: {error}";
                    if (status is >= 400 and < 500 and not (408 or 429))
                    {
                        retry.Remove(index); // refused for what it asks: sending it again would be refused again
                    }
                }
            }

            foreach (var index in retry.Where(i => failures[i] is null))
            {
                failures[index] = $"batch {job.Id} {job.Status} without answering it";
            }

            pending = retry.Order().ToList();
        }

        return answers.Select((a, i) => a is null ? BatchChatResult.Failed($"{failures[i] ?? "not answered"} (sent through the batch API {journal.Rounds.Count(r => r.CustomIds is null || r.CustomIds.Contains(CustomId(i)))} times)") : BatchChatResult.Ok(a)).ToList();
    }

    private async Task<BatchJob> PollAsync(string batchId, CancellationToken cancellationToken)
    {
        while (true)
        {
            var job = await _api.GetAsync(batchId, cancellationToken).ConfigureAwait(false);
            if (job.IsFinished)
            {
                return job;
            }

            // Cancellation leaves the batch running at the provider and its id in the journal: the next run polls it.
            await Task.Delay(_poll, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Every line of the batch's output and error files: the request it answers, its HTTP status, the completion body or the error.</summary>
    private async IAsyncEnumerable<(int Index, int Status, string? Body, string Error)> ResultsAsync(BatchJob job, int count, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var file in new[] { job.OutputFileId, job.ErrorFileId })
        {
            if (file is null)
            {
                continue;
            }

            await foreach (var line in _api.ReadLinesAsync(file, cancellationToken).ConfigureAwait(false))
            {
                var customId = line.TryGetProperty("custom_id", out var id) ? id.GetString() : null;
                var index = customId is null ? -1 : IndexOf(customId);
                if (index < 0 || index >= count)
                {
                    throw new InvalidDataException($"model '{_name}': batch {job.Id}'s file {file} has a line for custom_id {customId ?? "(none)"}, which no request of the batch carries");
                }

                var response = line.TryGetProperty("response", out var r) && r.ValueKind == JsonValueKind.Object ? r : (JsonElement?)null;
                var status = response is { } ok && ok.TryGetProperty("status_code", out var code) && code.TryGetInt32(out var s) ? s : 0;
                var body = response is { } withBody && withBody.TryGetProperty("body", out var b) && b.ValueKind == JsonValueKind.Object ? b : (JsonElement?)null;
                var error = line.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object ? Message(e)
                    : body is { } failed && failed.TryGetProperty("error", out var be) && be.ValueKind == JsonValueKind.Object ? $"HTTP {status}: {Message(be)}"
                    : $"HTTP {status}";
                yield return (index, status, body?.GetRawText(), error);
            }
        }
    }

    private static string Message(JsonElement error) =>
        (error.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String ? code.GetString() + ": " : string.Empty)
        + (error.TryGetProperty("message", out var message) ? message.ToString() : error.GetRawText());

    private string Line(string customId, string body)
    {
        using var document = JsonDocument.Parse(body);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("custom_id", customId);
            writer.WriteString("method", "POST");
            writer.WriteString("url", _api.ChatCompletionsPath);
            writer.WritePropertyName("body");
            document.RootElement.WriteTo(writer);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }

    private static string CustomId(int index) => "r" + index.ToString(CultureInfo.InvariantCulture);

    private static int IndexOf(string customId) =>
        customId.Length > 1 && customId[0] == 'r' && int.TryParse(customId.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var index) ? index : -1;

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var result = (await GetResponsesAsync([new BatchChatRequest(messages.ToList(), options)], cancellationToken).ConfigureAwait(false))[0];
        return result.Response ?? throw new InvalidOperationException($"model '{_name}': {result.Error}");
    }

    /// <summary>A batch API does not stream: the whole answer arrives as one update.</summary>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var update in (await GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false)).ToChatResponseUpdates())
        {
            yield return update;
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? _metadata
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose() => _api.Dispose();
}
