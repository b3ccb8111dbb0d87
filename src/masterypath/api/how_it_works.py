"""The plain-language page for learners: how evidence becomes a status."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>How masterypath decides your progress</title>
<style>body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 46rem;
line-height: 1.5; color: #1a1a1a; } h2 { margin-top: 1.6rem; }</style></head><body>
<main>
<h1>How your progress is decided</h1>
<p>This page explains, without jargon, how the system turns what you do into the status
you see for each skill. Your teacher can always check and change a status.</p>

<h2>1. What counts as evidence</h2>
<p>Every answer, quiz, assessment, project or teacher's observation that is about a skill
is saved as a piece of <em>evidence</em>. Evidence is never changed or thrown away, so your
record is complete. If you do something on a skill you have not unlocked yet, it still
counts.</p>

<h2>2. From evidence to an estimate</h2>
<p>For each skill the system keeps an estimate of how likely it is that you have mastered
it. A correct answer raises it; a mistake lowers it a little. It also knows that anyone can
guess right sometimes or slip up on something they know, so one answer never decides
everything. The estimate comes with how sure it is.</p>

<h2>3. From the estimate to a status</h2>
<ul>
<li><strong>Not started</strong>: no evidence yet.</li>
<li><strong>Not enough evidence</strong>: you have started, but there is too little to say
(for example, fewer than 3 pieces), or the skill asks for a particular kind, such as an
assessment.</li>
<li><strong>In progress</strong>: the estimate is still below the level for proficiency.</li>
<li><strong>Proficient</strong>: you are close; a few more correct answers show mastery.</li>
<li><strong>Mastered</strong>: the estimate is at or above the mastery level (usually 95%).</li>
<li><strong>Needs review</strong>: you mastered it before, and it is time for a short review,
or your recent answers suggest one.</li>
</ul>
<p>Next to each status you can see why it is what it is, which of your evidence was used,
and about how many more correct answers would reach mastery.</p>

<h2>4. Unlocking the next skills</h2>
<p>Some skills build on others. A skill unlocks when the skills it needs are proficient or
mastered, as the course says. You can always see what a locked skill is waiting for.</p>

<h2>5. Reviews</h2>
<p>Once you master a skill, the system plans a review before you are likely to forget it.
Each successful review pushes the next one further away.</p>

<h2>6. People stay in charge</h2>
<p>Your teacher can set a status by hand, with a reason (for example, if you showed the
skill in class). That decision wins over the computer's estimate until your teacher lifts
it, and every such decision is recorded.</p>

<h2>7. Fairness</h2>
<p>The school regularly checks that the estimates work equally well for different groups
of learners and that no question is unfair to a group. Group information is used for these
checks only if you (or your guardian) agreed, is kept apart from your work, and small groups
are never shown.</p>
</main></body></html>
"""
