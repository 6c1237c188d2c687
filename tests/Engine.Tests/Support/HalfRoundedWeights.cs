using Distil.Engine.Building;

namespace Distil.Engine.Tests.Support;

/// <summary>Another set of weights rounded to the nearest fp16 value and widened back: what an fp16 file stores,
/// for an fp32 graph to compute as the fp16 graph's reference.</summary>
internal sealed class HalfRoundedWeights(ILlamaWeights inner) : ILlamaWeights
{
    public string Source => inner.Source;

    public bool Contains(string name) => inner.Contains(name);

    public float[] Read(string name, out long[] shape) => inner.Read(name, out shape).Select(v => (float)(Half)v).ToArray();
}
