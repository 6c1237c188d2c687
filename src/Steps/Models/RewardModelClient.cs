using Distil.Engine.Model;
using Distil.Engine;
using Distil.Engine.Onnx;
using Distil.Engine.Reward;
using Distil.Engine.Text;
using Distil.Engine.Text.Jinja;
using Distil.Engine.Text.Tokenizers;
using Distil.Pipeline;
using Microsoft.Extensions.AI;

namespace Distil.Steps;

/// <summary>
/// A local reward model (a sequence classifier folder) as the runtime holds every model of a definition: a chat
/// client that cannot chat, whose <see cref="RewardModel"/> a reward_model step takes through
/// <c>GetService&lt;RewardModel&gt;()</c>. A generating step sent to it fails with a message that says so.
/// </summary>
internal sealed class RewardModelClient(string name, RewardModel model) : IChatClient
{
    /// <summary>Opens the folder with the entry's threads, device and chat template; errors name the entry's field.</summary>
    public static RewardModelClient Open(string name, string path, StepParameters definition)
    {
        var problems = new DefinitionProblems();
        var options = LocalModels.ReadOptions(name, definition, problems);
        problems.ThrowIfAny();
        try
        {
            return new RewardModelClient(name, RewardModel.Open(path, new RewardModelOptions
            {
                Threads = options.Threads,
                Device = ExecutionDevice.Parse(options.Device),
                ChatTemplate = options.ChatTemplate,
            }));
        }
        catch (NotSupportedException e)
        {
            throw definition.Error("device", $"model '{name}': {e.Message}");
        }
        catch (JinjaTemplateException e)
        {
            throw definition.Error(definition.Has("chat_template") ? "chat_template" : "path", $"model '{name}': chat template error: {e.Message}");
        }
        catch (Exception e) when (e is ModelFormatException or TokenizerFormatException or IOException or ArgumentException)
        {
            throw definition.Error(definition.Has("chat_template") && e is ArgumentException ? "chat_template" : "path", $"model '{name}': cannot load reward model {path}: {e.Message}");
        }
    }

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        throw Refusal();

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        throw Refusal();

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(model) ? model
        : serviceKey is null && serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose() => model.Dispose();

    private NotSupportedException Refusal() =>
        new($"model '{name}' is a reward model (a sequence classifier): it scores responses in a reward_model step and cannot generate text");
}
