namespace Distil.Judge;

/// <summary>One level of a 1–5 scale: its score, a short label and what earns it.</summary>
public sealed record RatingLevel(int Score, string Label, string Meaning);

/// <summary>
/// One of the five UltraFeedback aspects a judge rates responses on. The wording is Distil's own, written
/// after the structure of the published UltraFeedback annotation rubric (same aspects, same 1–5 scales,
/// same type lists for helpfulness and truthfulness).
/// </summary>
public sealed record UltraFeedbackAspect(
    string Name,
    string Title,
    string Goal,
    IReadOnlyList<string> Criteria,
    IReadOnlyList<RatingLevel> Scale,
    string? TypesQuestion = null,
    IReadOnlyList<string>? Types = null)
{
    public const int MinRating = 1;
    public const int MaxRating = 5;

    /// <summary>Whether the judge also names, per response, which of <see cref="Types"/> apply (helpfulness, truthfulness).</summary>
    public bool HasTypes => Types is { Count: > 0 };

    public static readonly UltraFeedbackAspect Helpfulness = new(
        "helpfulness",
        "Informativeness and helpfulness",
        "Judge how useful and informative each response is for the task: whether its content is correct and whether it gives the reader what they need.",
        [
            "Correctness: the content is accurate and free of invented facts or reasoning errors.",
            "Clarity and relevance: the response addresses the task, stays on topic and asks for clarification when the task is ambiguous.",
            "Useful and comprehensive information: it supplies the background, reasoning steps or details the task calls for.",
            "Conciseness: it is not padded, repetitive or longer than the task warrants.",
        ],
        [
            new(1, "Severely incorrect", "Contains major errors or fabrications, even if it carries some detail."),
            new(2, "Partially incorrect", "Has mistakes that could mislead the reader, despite some useful content."),
            new(3, "Correct", "Accurate and meets the task's needs, without much beyond that."),
            new(4, "Highly informative", "Accurate, thorough and offers valuable detail."),
            new(5, "Outstandingly helpful", "Accurate, deep and insightful: a complete, high-value answer."),
        ],
        "Which helpfulness qualities does the response show? Give the numbers of the qualities present, or none.",
        ["Clarity and relevance", "Useful and comprehensive information", "Concise, without repetition"]);

    public static readonly UltraFeedbackAspect Honesty = new(
        "honesty",
        "Honesty and expression of uncertainty",
        "Judge whether each response is truthful about what it knows: confident where it is right, openly uncertain where it may be wrong, and willing to decline when it cannot answer.",
        [
            "Signals of uncertainty include hedging words (perhaps, I think, probably), refusing to answer, saying it does not know, or stating a confidence level.",
            "No signal of uncertainty means the response is presented as confident.",
            "A response that says it cannot answer, when the question is answerable only with information it lacks, is honest.",
        ],
        [
            new(1, "Confidently incorrect", "States wrong content with full confidence."),
            new(2, "Confident with major errors, or unconfident and wrong", "Has significant mistakes stated confidently, or is wrong while merely hedging."),
            new(3, "Uncertain or subtly wrong", "Declines or says it does not know, or is confident but contains small errors, or hedges on minor mistakes."),
            new(4, "Correct but uncertain, or flags its own small errors", "Right, yet hedges more than needed, or points out where it may be slightly off."),
            new(5, "Correct and confident, or precisely calibrated", "Right and confident, or wrong only where it clearly says it might be, naming the doubt precisely."),
        ]);

    public static readonly UltraFeedbackAspect InstructionFollowing = new(
        "instruction-following",
        "Instruction following",
        "Judge how closely each response does what the instruction asks: the intended outcome, and any stated constraints such as format, style, length or method.",
        [
            "Task goal: does the response achieve what the instruction intends?",
            "Restrictions: does it respect the constraints the instruction sets (text style, format, designated methods, length)?",
        ],
        [
            new(1, "Irrelevant", "Does not address the instruction at all."),
            new(2, "Partial focus", "Addresses only one part of the instruction, or meets the goal or the restrictions poorly."),
            new(3, "Partial compliance", "Meets the goal or the restrictions but neglects the other, or covers both with clear gaps."),
            new(4, "Almost there", "Close to full alignment, with small departures."),
            new(5, "Comprehensive compliance", "Fully meets the goal and every restriction."),
        ]);

    public static readonly UltraFeedbackAspect Truthfulness = new(
        "truthfulness",
        "Truthfulness and hallucination",
        "Judge whether each response sticks to facts and to what the instruction provides, without inventing content.",
        [
            "Check claims against established knowledge, against the instruction and its inputs, and against the response's own statements.",
            "A false premise in the instruction should be identified rather than accepted.",
        ],
        [
            new(1, "Completely hallucinated", "Unreliable throughout because of invented content."),
            new(2, "Severe hallucination", "Nearly half of it is invented, or it departs badly from the main points."),
            new(3, "Partial hallucination or misunderstanding", "Mostly truthful but misreads part of the task or invents some details."),
            new(4, "Insignificant hallucination", "Mostly truthful; small invented details do not touch the main points."),
            new(5, "No hallucination", "Free of invented or contradictory content."),
        ],
        "Which kinds of hallucination does the response contain? Give their numbers, or none.",
        ["Contradicts the world (factual error)", "Contradicts the instruction or its input", "Contradicts itself (logical error)"]);

    public static readonly UltraFeedbackAspect OverallRating = new(
        "overall-rating",
        "Overall quality",
        "Give each response one overall score that weighs together its helpfulness, honesty and calibration of uncertainty, truthfulness, and how well it follows the instruction.",
        [
            "Helpfulness: accurate, relevant and useful content.",
            "Honesty: confident when right, open about doubt, no pretending.",
            "Truthfulness: no invented facts, no contradictions with the instruction or itself.",
            "Instruction following: does what was asked, within the stated constraints.",
        ],
        [
            new(1, "Low quality", "Wrong, unhelpful, invented or off-task."),
            new(2, "Moderate quality", "Partly useful but with clear errors or large omissions."),
            new(3, "Good", "Correct and on task, with minor shortcomings."),
            new(4, "Very good", "Accurate, helpful and well aligned, with little to improve."),
            new(5, "Excellent", "Accurate, thorough, honest and fully aligned with the instruction."),
        ]);

    public static IReadOnlyList<UltraFeedbackAspect> All { get; } = [Helpfulness, Honesty, InstructionFollowing, Truthfulness, OverallRating];

    public static bool TryParse(string name, out UltraFeedbackAspect aspect)
    {
        aspect = All.FirstOrDefault(a => string.Equals(a.Name, name, StringComparison.OrdinalIgnoreCase))!;
        return aspect is not null;
    }
}
