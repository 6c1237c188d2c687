using Distil.Pipeline.Tests.Cycle.Left;

namespace Distil.Pipeline.Tests.Cycle.Right;

// The other half of the namespace cycle NamespaceLayeringTests must find.
internal static class RightSide
{
    public static int Back(int depth) => depth <= 0 ? 0 : LeftSide.Value(depth - 1) + 1;
}
