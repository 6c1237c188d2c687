namespace Distil.Pipeline.Runtime;

/// <summary>A batch travelling along one edge: which input of the receiving step it is (branch), its number on that edge, its rows (ascending ids).</summary>
internal readonly record struct Inbound(int Branch, long Seq, Row[] Rows);
