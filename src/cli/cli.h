/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The voice engine's command-line tools: compare, embed, train and eval.
 * Each takes the arguments after its command name and returns the process
 * exit status (0 success, 1 failure, 2 usage error). Results go to stdout
 * as JSON lines; problems go to stderr.
 */
#ifndef TIMBRE_CLI_CLI_H
#define TIMBRE_CLI_CLI_H

int cli_compare(int argc, char **argv);
int cli_embed(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_eval(int argc, char **argv);

#endif
