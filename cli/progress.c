/*
 * progress.c - the progress bar of long runs (the expiry sweep): one plain
 * line on stderr, redrawn in place with a carriage return and wiped at the
 * end, so that nothing of it stays on the screen. It is drawn only when
 * stderr is a terminal: logs, pipes and tests never see it.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define PROGRESS_BAR_WIDTH 30

/* Starts a bar labelled `label` (borrowed; must outlive the bar); inactive off a terminal. */
void cli_progress_start(cli_progress *progress, const char *label)
{
    memset(progress, 0, sizeof *progress);
    progress->label = label;
    progress->active = isatty(STDERR_FILENO);
    progress->last_permille = -1;
}

/* A loyalty_progress_fn: redraws the bar when the share done has moved. */
void cli_progress_update(void *context, int64_t done, int64_t total)
{
    cli_progress *progress = context;
    if (!progress->active || total <= 0)
        return;
    if (done < 0)
        done = 0;
    if (done > total)
        done = total;
    /* In floating point: done * 1000 could overflow, and a bar needs no exactness. */
    int64_t permille = (int64_t)((double)done * 1000.0 / (double)total);
    if (permille == progress->last_permille)
        return;
    progress->last_permille = permille;
    char bar[PROGRESS_BAR_WIDTH + 1];
    int filled = (int)(permille * PROGRESS_BAR_WIDTH / 1000);
    for (int i = 0; i < PROGRESS_BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[PROGRESS_BAR_WIDTH] = '\0';
    int width = fprintf(stderr, "\r%s [%s] %3d%% %lld/%lld", progress->label, bar,
                        (int)(permille / 10), (long long)done, (long long)total);
    if (width > progress->width)
        progress->width = width;
    fflush(stderr);
}

/* Wipes the bar's line (when one was drawn) so that later output starts clean. */
void cli_progress_finish(cli_progress *progress)
{
    if (!progress->active || progress->width == 0)
        return;
    fprintf(stderr, "\r%*s\r", progress->width, "");
    fflush(stderr);
    progress->width = 0;
}
