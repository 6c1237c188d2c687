namespace Distil.Judge.Tests;

/// <summary>The test classes of this assembly that share one <see cref="TinyModels"/> (xUnit finds collections only in the test assembly).</summary>
[CollectionDefinition(Name)]
public sealed class TinyModelCollection : ICollectionFixture<TinyModels>
{
    public const string Name = TinyModels.Collection;
}
