"""nbgrader settings for this course. Run nbgrader's commands from the repository root."""
c = get_config()  # noqa: F821 (nbgrader provides get_config)

c.CourseDirectory.course_id = "attnlab"
c.CourseDirectory.root = "."  # relative, so every checkout works
c.CourseDirectory.source_directory = "solutions"  # the instructor's notebooks, with solutions and hidden tests
c.CourseDirectory.release_directory = "course"  # what students get, committed to git
# Students' work and nbgrader's products stay out of git (see .gitignore).
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"

# The slowest cell trains a small model for a few seconds; 120 s leaves room on a busy machine while
# still stopping a student's infinite loop.
c.Execute.timeout = 120
# Autograding is nbgrader's, with two of its steps replaced by the course's own and one added
# (attnlab.grading.preprocessors): student code runs in a sandbox that cannot read the solutions, the gradebook or
# other submissions, reach the network or signal nbgrader (attnlab.grading.sandbox); the tests run again in a clean
# room, a fresh kernel with only the answers' definitions, and each scores the lower of the two runs
# (attnlab.grading.clean_room); and a test cell that raised scores 0 whatever it printed before.
# Names, not classes, so that commands other than autograde never import the library.
c.Autograde.autograde_preprocessors = [
    "attnlab.grading.preprocessors.SandboxedExecute",
    "attnlab.grading.preprocessors.CleanRoom",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "attnlab.grading.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# A student who deletes a test cell still gets it back (and keeps the points of a correct answer).
c.OverwriteCells.add_missing_cells = True
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Students outside the hub (Colab, a laptop, an LMS upload) hand in files named <student_id>_<notebook>.ipynb, e.g.
# alice_01_attention_from_scratch.ipynb: the student's id (a letter or digit first, then letters, digits, _ . @ -), an
# underscore, the notebook's name as released. Colab's "Copy of " before the name and a browser's " (1)" or an LMS's
# "-1" after it are allowed. The instructor puts the files, or zip files of them, in downloaded/<assignment>/archive/
# and runs `nbgrader zip_collect <assignment>`, which copies each into submitted/<student_id>/<assignment>/. A file
# named otherwise is skipped with a warning, never given to a made-up student. No file replaces another: two files for
# one student and notebook stop the command before it copies anything (there is no timestamp to choose by); a student
# whose submitted/ folder already holds files stops it at that student, unless --force, which empties that student's
# folder first. nbgrader matches the regexp against the file's full path, hence the leading ".*/"; the student's id is
# the longest prefix followed by "_" and a notebook's two digits.
c.FileNameCollectorPlugin.named_regexp = (
    r".*/(?P<student_id>[A-Za-z0-9][\w.@-]*)_(?:Copy of )?(?P<file_id>\d\d_\w+?)(?: ?\(\d+\)|-\d+)?\.ipynb$")
