using Distil.Pipeline.Tests.Cycle.Right;

namespace Distil.Pipeline.Tests.Cycle.Left;

// One half of a namespace cycle kept on purpose, so NamespaceLayeringTests shows that it finds one.
internal static class LeftSide
{
    public static int Value(int depth) => depth <= 0 ? 0 : RightSide.Back(depth - 1) + 1;
}
